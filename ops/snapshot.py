"""The database's side of the metrics: one set of cheap queries, cached for a few seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from ops import backlog, heartbeat, storage
from ops.verdict import age, lag
from tasks.refresh import meter

CACHE_KEY = "ops:metrics-snapshot"


@dataclass(frozen=True)
class Snapshot:
    links_by_status: dict[str, int]
    due_now: int
    refresh_lag: float
    expired_awaiting_refresh: int
    refresh_projected: float
    refresh_rate: float
    delivery_backlog: dict[tuple[str, str], int]
    delivery_lag: float
    endpoints: dict[str, int]
    heartbeat_ages: dict[str, float]
    tables: dict[str, tuple[int, int]]  # rows, bytes with indexes


def take(now: datetime) -> Snapshot:
    return Snapshot(
        links_by_status=backlog.links_by_status(),
        due_now=backlog.due_now(now),
        refresh_lag=lag(now, backlog.oldest_due_refresh(now)),
        expired_awaiting_refresh=backlog.expired_awaiting_refresh(now),
        refresh_projected=backlog.refresh_projected(now),
        refresh_rate=meter.capacity(),
        delivery_backlog=backlog.delivery_backlog(),
        delivery_lag=lag(now, backlog.oldest_due_delivery(now)),
        endpoints=backlog.endpoint_states(now),
        heartbeat_ages={name: age(now, at) or 0.0 for name, at in heartbeat.latest().items()},
        tables=storage.tables(),
    )


def cached() -> Snapshot:
    ttl = settings.METRICS_CACHE_SECONDS
    if ttl <= 0:
        return take(timezone.now())
    found: Snapshot | None = cache.get(CACHE_KEY)
    if found is None:
        found = take(timezone.now())
        cache.set(CACHE_KEY, found, ttl)
    return found
