"""The demo's refresh step: a short-lived link re-signed before it lapses and delivered again.

Runs with the demo's in-process worker on the in-memory broker; enqueueing the refresh task
every second stands in for `celery -A project beat`. The shared verifying receiver takes the
webhooks.
"""

from __future__ import annotations

from collections.abc import Callable

import requests
from django.conf import settings
from django.core.management.base import CommandError

from common.redact import redact
from demo.receiver import Receiver
from demo.worker import in_process_worker
from media.clients import media_client
from tasks.batches.issuing import create_batch
from tasks.batches.spec import BatchRequest
from tasks.tasks import refresh_links

KEY = "shares/refresh-demo.txt"
BODY = b"Still here: this link was re-signed before it lapsed.\n"
TTL = 6


def run_refresh_demo(say: Callable[[str], None]) -> None:
    media_client().put_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=KEY, Body=BODY)
    with (
        Receiver(verify=True) as receiver,
        in_process_worker(),
    ):
        request = BatchRequest(
            keys=[KEY], expires_in=TTL, refresh=True, recipients=[{"webhook": receiver.url}]
        )
        receiver.secret = create_batch(request).secrets[0][1]
        try:
            issued = receiver.wait_for_event("links.issued")["data"]["links"][0]
            say(f"webhook got links.issued: a {TTL}-second link, expires {issued['expires_at']}")
            refreshed = receiver.wait_for_event("links.refreshed", tick=refresh_links.delay)
        except TimeoutError as error:
            raise CommandError(str(error)) from None
    fresh = refreshed["data"]["links"][0]
    say(f"webhook got links.refreshed before it lapsed: now expires {fresh['expires_at']}")
    say(f"    {redact(fresh['url'])[:110]}…")
    response = requests.get(fresh["url"], timeout=10)
    if response.content != BODY:
        raise CommandError(f"the refreshed link did not download: HTTP {response.status_code}")
    say("the refreshed link downloads the object")
