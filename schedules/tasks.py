"""The periodic tick that runs due schedules (beat entry `schedules-tick`)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from schedules import runs


@shared_task(name="schedules.tick")
def tick() -> int:
    """Runs made by this tick (a run that made a batch queues its chunks on commit)."""
    return sum(result.created for result in runs.tick(timezone.now()))
