"""The retention beat task: thin, it runs one purge and queues the next while rows are left."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from retention import run as retention_run

log = logging.getLogger(__name__)


@shared_task(name="tasks.purge_expired_records")
def purge_expired_records() -> dict[str, object]:
    """One retention run (beat, hourly); queues the next at once while rows are left."""
    tally = retention_run.purge_all(timezone.now(), retention_run.pace_in_force())
    if tally is None:
        return {"skipped": "another purge is running"}
    if tally.failures:
        log.error("retention: %d records left for the next run", len(tally.failures))
    if tally.more:
        purge_expired_records.delay()
    return {"purged": dict(tally.rows), "more": tally.more, "failures": len(tally.failures)}
