"""Helpers for the schedule tests: make a schedule with its crontab row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from schedules.models import Schedule, crontab_for


def make_schedule(
    name: str,
    cron: str = "0 8 * * *",
    zone: str = "Europe/Paris",
    since: datetime | None = None,
    **fields: Any,
) -> Schedule:
    """A schedule whose occurrences after `since` (default now) are due."""
    tab = crontab_for(cron, zone)
    start = since or timezone.now()
    values = {"selection": "newest", "expires_in": 600, **fields}
    return Schedule.objects.create(
        name=name, crontab=tab, created_at=start, covered_until=start, **values
    )
