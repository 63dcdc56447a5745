"""`revoke_links (--link ID ... | --batch ID)`: stop links and tell their recipients."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tasks.models import Batch, ShareLink
from tasks.revocation.revoke import Revoked, revoke, revoke_batch_now


class Command(BaseCommand):
    help = (
        "Revoke links: never refreshed again, their permalinks answer 410, recipients get "
        "links.revoked. A URL already handed out stays valid until it expires (S3 cannot "
        "take it back)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--link", type=int, action="append", metavar="ID", help="a link id (repeat)"
        )
        which.add_argument("--batch", type=uuid.UUID, metavar="ID", help="every link of a batch")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch"]:
            batch = Batch.objects.filter(id=options["batch"]).first()
            if batch is None:
                raise CommandError(f"--batch {options['batch']}: no such batch")
            self.report(revoke_batch_now(batch))
            return
        wanted = set(options["link"])
        known = set(ShareLink.objects.filter(id__in=wanted).values_list("id", flat=True))
        if wanted - known:
            unknown = ", ".join(str(i) for i in sorted(wanted - known))
            raise CommandError(f"--link: no link with id {unknown}; nothing was revoked")
        self.report(revoke(ShareLink.objects.filter(id__in=wanted)))

    def report(self, done: Revoked) -> None:
        self.stdout.write(
            f"revoked {done.links} links ({done.deliveries} links.revoked deliveries); "
            "URLs already handed out stay valid until they expire"
        )
