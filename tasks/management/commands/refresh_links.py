"""`refresh_links [--dry-run]`: one refresh pass (and lapse sweep) by hand."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from common.redact import redact
from tasks.refresh import claims, lapsing, refresher

SHOWN = 20


class Command(BaseCommand):
    help = (
        "Re-sign the links that are due, send links.refreshed, mark expired links lapsed; "
        "with --dry-run, only say what is due."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="list what is due; change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            self.dry_run()
            return
        report = refresher.run_pass(limit=10**9)
        lapsed = lapsing.LapseReport(more=True)
        total_lapsed = deliveries = 0
        while lapsed.more:
            lapsed = lapsing.lapse_expired(timezone.now())
            total_lapsed += lapsed.lapsed
            deliveries += lapsed.deliveries
        self.stdout.write(
            f"due {report.due}, refreshed {report.refreshed}, stopped {report.past_until} "
            f"(past refresh_until) + {report.gone} (object gone), revoked {report.access_ended} "
            f"(owner lost access), failed {report.failed}, lapsed {total_lapsed}, "
            f"deliveries {report.deliveries + deliveries}"
        )

    def dry_run(self) -> None:
        now = timezone.now()
        due = claims.due(now).order_by("refresh_at")
        expired = lapsing.expired(now)
        self.stdout.write(
            f"due for refresh: {due.count()}; would lapse: {expired.count()} (dry run: no change)"
        )
        for link in due.only("id", "key", "version", "expires_at", "url")[:SHOWN]:
            self.stdout.write(
                f"  link {link.id} v{link.version} {link.key!r} expires "
                f"{link.expires_at:%Y-%m-%d %H:%M:%S} UTC  {redact(link.url)[:80]}"
            )
