"""The demo's schedule run: a weekly finance report schedule, run by the tick, then again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import requests
from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone

from demo.worker import in_process_worker
from media.clients import media_client
from schedules import runs
from schedules.models import Schedule, crontab_for
from schedules.occurrences import latest_occurrence
from tasks.models import Batch

NAME = "demo-finance-weekly"


def demo_schedule() -> Schedule:
    """Every Monday 08:00 Europe/Paris: what is new under reports/finance/ (made afresh)."""
    Schedule.objects.filter(name=NAME).delete()
    tab = crontab_for("0 8 * * 1", "Europe/Paris")
    return Schedule.objects.create(
        name=NAME,
        crontab=tab,
        prefix="reports/finance/",
        selection=Schedule.Selection.NEW,
        expires_in=600,
        filename_from_key=True,
    )


def run_scheduled_report(step: Callable[[str], None], wait_for: Callable[[Batch], Batch]) -> None:
    """Last Monday's 08:00 run made by the beat's tick (twice: one run), then a run by hand."""
    schedule = demo_schedule()
    now = timezone.now()
    monday = latest_occurrence(schedule.cron, schedule.zone, now - timedelta(days=8), now)
    if monday is None:
        raise CommandError("a weekly schedule has no occurrence in the last 8 days")
    # As if the schedule had been made just before last Monday 08:00 and beat ticked since.
    Schedule.objects.filter(id=schedule.id).update(
        created_at=monday - timedelta(minutes=1), covered_until=monday - timedelta(minutes=1)
    )
    for name in ("celery", "kombu"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with in_process_worker():
        made = runs.tick(now) + runs.tick(now)  # a tick delivered twice
        run = made[0].run if len(made) == 1 else None
        if run is None or run.batch is None:
            raise CommandError(f"the schedule's tick made {len(made)} runs, not one batch")
        local = run.scheduled_for.astimezone(schedule.zone)
        step(
            f"schedule {NAME!r} (0 8 * * 1 Europe/Paris): the tick ran {local:%a %d %b %H:%M %Z} "
            f"once though it came twice — {run.message}"
        )
        batch = wait_for(run.batch)
    check_links(batch)
    step(f"the scheduled batch {batch.id}: {batch.signed} links, each downloads its report")
    again = runs.run_now(schedule.id, now.replace(second=0, microsecond=0)).run
    step(f"run_schedule {NAME} (nothing new since): {again.outcome} — {again.message}")


def check_links(batch: Batch) -> None:
    client = media_client()
    for link in batch.links.all():
        stored = client.get_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=link.key)
        if requests.get(link.url, timeout=10).content != stored["Body"].read():
            raise CommandError(f"the scheduled link for {link.key!r} did not download its object")
