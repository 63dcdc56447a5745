"""Publish from another process (as a web process would): `python -m tests.services.publish_cli
SUBJECT RECIPIENT_ID ...` with `links.issued` and no links; prints the delivery ids as JSON.

The environment says which broker and queue the dispatch tasks go to.
"""

from __future__ import annotations

import json
import os
import sys

import django


def main(subject: str, recipient_ids: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    django.setup()
    from notifications.models import Recipient
    from notifications.outbox import publish

    recipients = list(Recipient.objects.filter(id__in=recipient_ids))
    deliveries = publish("links.issued", subject=subject, recipients=recipients, items=[])
    print(json.dumps([str(d.id) for d in deliveries]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
