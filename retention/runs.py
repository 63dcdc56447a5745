"""Purging old schedule runs: the history goes, a schedule's last run always stays."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet

from common.purging import Pace, Tally
from retention.batches import drain
from schedules.models import ScheduleRun


def purgeable_runs(cutoff: datetime) -> QuerySet[ScheduleRun]:
    later = ScheduleRun.objects.filter(
        schedule=OuterRef("schedule"), scheduled_for__gt=OuterRef("scheduled_for")
    )
    return ScheduleRun.objects.filter(scheduled_for__lt=cutoff).filter(Exists(later))


def purge(cutoff: datetime, pace: Pace) -> Tally:
    tally = Tally()
    tally.more = not drain(purgeable_runs(cutoff), "schedule_run", pace, tally)
    return tally


def preview(cutoff: datetime) -> Tally:
    tally = Tally(dry_run=True)
    tally.add("schedule_run", purgeable_runs(cutoff).count())
    return tally
