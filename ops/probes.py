"""I/O of /healthz: does each service answer (with a short deadline), and what is waiting."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connection

from notifications import cutoff
from ops import backlog, heartbeat
from ops.verdict import Limits, Observed
from retention import outcome
from tasks.refresh import meter
from tasks.refresh.margin import current_minimum


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    with current_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.LINKS_HEALTH_TIMEOUT)


@functools.cache
def bucket_client() -> Any:
    """An S3 client that gives up after LINKS_HEALTH_TIMEOUT, without retries."""
    from media.clients import boto_session, s3_client
    from signing.target import media_target

    timeout = settings.LINKS_HEALTH_TIMEOUT
    return s3_client(
        boto_session(settings),
        media_target(settings),
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": 1, "mode": "standard"},
    )


os.register_at_fork(after_in_child=bucket_client.cache_clear)


def check_media_bucket() -> None:
    bucket_client().head_bucket(Bucket=settings.AWS_STORAGE_BUCKET_NAME)


SERVICES: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "media_bucket": check_media_bucket,
}


def describe(error: Exception) -> str:
    """The kind of failure, never its message (a broker URL may carry a password)."""
    response = getattr(error, "response", None)  # botocore's ClientError: its error code
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return f"failed: {type(error).__name__}" + (f" ({code})" if code else "")


def services() -> dict[str, str | None]:
    results: dict[str, str | None] = {}
    for name, check in SERVICES.items():
        try:
            check()
            results[name] = None
        except Exception as error:  # any failure of a service is what this reports
            results[name] = describe(error)
    return results


def observe(now: datetime) -> Observed:
    answered = services()
    if answered["database"] is not None:
        return Observed(now, answered)
    purged = outcome.current()
    return Observed(
        now,
        answered,
        heartbeats=heartbeat.latest(),
        oldest_due_refresh=backlog.oldest_due_refresh(now),
        oldest_due_delivery=backlog.oldest_due_delivery(now),
        lease_lost_at=meter.current().lease_lost_at,
        takeover_lost_at=cutoff.last_lost_take_over(),
        refresh_projected=backlog.refresh_projected(now),
        purge_completed_at=purged.completed_at,
        purge_failed_at=purged.failed_at,
    )


def limits() -> Limits:
    return Limits(
        beat_max_age=settings.HEALTH_MAX_BEAT_AGE,
        queue_max_age={str(q): int(s) for q, s in settings.HEALTH_QUEUE_MAX_AGE.items()},
        refresh_max_lag=settings.HEALTH_MAX_REFRESH_LAG,
        delivery_max_lag=settings.HEALTH_MAX_DELIVERY_LAG,
        lease_lost_window=settings.HEALTH_MAX_REFRESH_LAG,
        takeover_lost_window=settings.HEALTH_MAX_DELIVERY_LAG,
        refresh_margin=current_minimum(),
        retention_failure_window=2 * settings.RETENTION_INTERVAL,
        retention_max_age=3 * settings.RETENTION_INTERVAL,
    )
