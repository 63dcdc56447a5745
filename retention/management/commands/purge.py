"""`purge [--dry-run]`: remove the records past their retention windows (as beat does hourly)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from common import retention
from common.purging import Tally
from retention import run


class Command(BaseCommand):
    help = (
        "Delete ended links, batches, deliveries, attempts, message bodies, schedule runs and "
        "manifests past their retention windows (RETENTION_*); with --dry-run, only count them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count what would go")
        parser.add_argument(
            "--max-seconds", type=float, default=None, help="stop after this long (default: none)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for what, window in retention.describe():
            self.stdout.write(f"keeping {what}: {window} after they ended")
        now = timezone.now()
        if options["dry_run"]:
            self.report(run.preview_all(now), "would purge (dry run: nothing deleted)")
            return
        limit = options["max_seconds"]
        tally = run.purge_all(now, run.pace_in_force(float("inf") if limit is None else limit))
        if tally is None:
            raise CommandError("another purge is running; try again when it ends")
        self.report(tally, "purged")
        for failure in tally.failures:
            self.stderr.write(f"not purged (left for the next run): {failure}")
        if tally.more:
            self.stdout.write("stopped at --max-seconds: more is left for the next run")

    def report(self, tally: Tally, verb: str) -> None:
        rows = ", ".join(f"{table} {count}" for table, count in sorted(tally.rows.items()))
        self.stdout.write(f"{verb}: {rows or 'nothing'}")
