"""`run_schedule NAME [--owner USERNAME]`: run one schedule now, to check it by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TextIO, cast

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from common.retrying import describe
from schedules.models import Schedule, ScheduleRun
from schedules.runs import RunResult, find_schedule, run_now
from tasks.management.clitools import NoWorker, WaitStalled, require_worker, wait_for
from tasks.models import Batch


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class Command(BaseCommand):
    help = (
        "Run a schedule now (enabled or not): select its objects, make its batch and deliver "
        "it. The run counts as the run for its scheduled time (this minute, or --at)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the schedule's name")
        parser.add_argument(
            "--owner",
            metavar="USERNAME",
            help="whose schedule (names are unique per owner; needed when several share it)",
        )
        parser.add_argument(
            "--at",
            metavar="DATETIME",
            help="the scheduled time this run stands for (ISO; default: now, to the minute)",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="follow the batch until it is signed and handed over",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        at = self.scheduled_time(options["at"])
        if options["wait"]:
            try:
                require_worker()
            except NoWorker as error:
                raise CommandError(f"{error}; nothing was run") from None
        try:
            schedule = find_schedule(options["name"], options["owner"])
            result = run_now(schedule.id, at)
        except (Schedule.DoesNotExist, Schedule.MultipleObjectsReturned) as error:
            raise CommandError(str(error)) from None
        except (BotoCoreError, ClientError) as error:
            raise CommandError(f"the media bucket did not answer: {describe(error)}") from None
        self.report(result)
        run = result.run
        if run.outcome == ScheduleRun.Outcome.FAILED:
            raise CommandError(f"the run failed: {run.message}")
        if options["wait"] and run.batch is not None:
            self.follow(run.batch)

    @staticmethod
    def scheduled_time(text: str | None) -> datetime:
        if not text:
            return minute_of(timezone.now())
        moment = parse_datetime(text)
        if moment is None:
            raise CommandError(f"--at: {text!r} is not an ISO date-time (2026-11-02T08:00+01:00)")
        return minute_of(moment if moment.tzinfo else moment.replace(tzinfo=UTC))

    def report(self, result: RunResult) -> None:
        run = result.run
        schedule = run.schedule
        local = run.scheduled_for.astimezone(schedule.zone)
        utc = run.scheduled_for.astimezone(UTC)
        when = f"{local:%Y-%m-%d %H:%M} {schedule.zone.key} ({utc:%H:%M} UTC)"
        if not result.created:
            self.stdout.write(f"schedule {schedule.name} had run for {when} already:")
        batch = f"; batch {run.batch_id}" if run.batch_id else ""
        self.stdout.write(f"run for {when}: {run.outcome} — {run.message}{batch}")

    def follow(self, batch: Batch) -> None:
        try:
            batch = wait_for(batch, stall_timeout=120, stream=cast(TextIO, self.stderr._out))
        except WaitStalled as error:
            raise CommandError(str(error)) from None
        if batch.status == Batch.Status.FAILED:
            raise CommandError(f"batch {batch.id} failed: {batch.error}")
        self.stdout.write(f"batch {batch.id} {batch.status}: {batch.signed} links handed over")
