"""The retention beat task: thin, it runs one purge and queues the next while rows are left."""

from __future__ import annotations

import logging

from django.utils import timezone

from common.tasknames import task
from retention import run as retention_run

log = logging.getLogger(__name__)
PURGE_EXPIRED_RECORDS = "retention.purge_expired_records"


@task(PURGE_EXPIRED_RECORDS)
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
