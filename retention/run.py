"""One purge run over every kind of record, one at a time (a PostgreSQL advisory lock).

Each app purges its own tables: links, batches and schedule runs here, deliveries in
retention. A run stops at its deadline; the next one goes on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from common import retention
from common.purging import Pace, Tally
from retention import batches, deliveries, outcome, runs

LOCK_KEY = 0x6C696E6B_70757267  # "linkpurg": one purge at a time across workers


@contextmanager
def only_one() -> Iterator[bool]:
    """True when this process may purge now; released at the end (or with the connection)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        (got,) = cursor.fetchone()
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def pace_in_force(seconds: float | None = None) -> Pace:
    limit = settings.RETENTION_RUN_SECONDS if seconds is None else seconds
    return Pace(
        chunk=settings.RETENTION_CHUNK,
        duty=settings.RETENTION_DUTY_PERCENT / 100,
        deadline=time.monotonic() + limit,
    )


def purge_all(now: datetime, pace: Pace) -> Tally | None:
    """Deliveries, then batches with their links, then schedule runs; None when another purge
    is running. The outcome is written down for /healthz."""
    cut = retention.in_force().cutoffs(now)
    with only_one() as mine:
        if not mine:
            return None
        tally = Tally()
        tally.merge(deliveries.purge(cut.deliveries, pace))
        tally.merge(batches.purge(cut.links, pace))
        tally.merge(runs.purge(cut.schedule_runs, pace))
        outcome.record(len(tally.failures), timezone.now())
        return tally


def preview_all(now: datetime) -> Tally:
    cut = retention.in_force().cutoffs(now)
    tally = Tally(dry_run=True)
    tally.merge(deliveries.preview(cut.deliveries))
    tally.merge(batches.preview(cut.links))
    tally.merge(runs.preview(cut.schedule_runs))
    return tally
