"""Limits that keep one tenant's refreshing batches from amplifying (pure: values in, values out).

A refreshing link is re-signed when its remaining life falls under the refresh margin, and
the margin is at most half its lifetime. For the new URL to reach the recipients before the
old one lapses, the half-life must cover the wait for the next refresh pass and the worst
recovery from one lost worker. So a refreshing batch's TTL is at least

    2 × (LINKS_REFRESH_INTERVAL + recovery)

and anything shorter would be re-signed (and re-announced) on every pass for nothing. And a
refreshing batch is no larger than the refresh pools re-sign in time at its TTL
(spec.largest_kept_alive).
These functions are the one place that says so; they read a settings-like object.
"""

from __future__ import annotations

from typing import Any

from notifications.recovery import NAMES, RecoverySettings
from tasks.batches.spec import RefreshLimits
from tasks.refresh.margin import minimum_margin


def recovery_settings(settings: Any) -> RecoverySettings:
    return RecoverySettings(
        webhook_timeout=settings.WEBHOOK_TIMEOUT,
        email_timeout=settings.EMAIL_TIMEOUT,
        lease_grace=settings.DELIVERY_LEASE_GRACE,
        sweep_interval=settings.DELIVERY_SWEEP_INTERVAL,
        requeue_after=settings.DELIVERY_REQUEUE_AFTER,
    )


def shortest_margin(settings: Any) -> int:
    """The shortest margin that holds through a lost worker (tasks/refresh/margin.py)."""
    return minimum_margin(
        settings.LINKS_REFRESH_INTERVAL, recovery_settings(settings), settings.LINKS_REFRESH_LEASE
    )


def derived_min_refresh_ttl(settings: Any) -> int:
    """Twice the shortest margin: the margin is at most half a link's life."""
    return 2 * shortest_margin(settings)


def min_refresh_ttl(settings: Any) -> int:
    """LINKS_REFRESH_MIN_TTL when set, else the derived minimum."""
    chosen = getattr(settings, "LINKS_REFRESH_MIN_TTL", None)
    return derived_min_refresh_ttl(settings) if chosen is None else int(chosen)


def describe_min_ttl(settings: Any) -> str:
    """Where the minimum comes from, for an error message."""
    if getattr(settings, "LINKS_REFRESH_MIN_TTL", None) is not None:
        return "LINKS_REFRESH_MIN_TTL"
    return (
        "LINKS_REFRESH_MIN_TTL, derived: twice the minimum refresh margin, from "
        f"LINKS_REFRESH_INTERVAL, LINKS_REFRESH_LEASE and {NAMES}"
    )


def refresh_limits(settings: Any, capacity: float | None = None) -> RefreshLimits:
    """The limits create_batch applies to a refreshing batch, from the settings and the refresh
    pools' capacity (links/s; None: the batch size is not checked against it)."""
    return RefreshLimits(
        min_ttl=min_refresh_ttl(settings),
        min_ttl_source=describe_min_ttl(settings),
        max_life=settings.LINKS_REFRESH_MAX_LIFE,
        min_margin=shortest_margin(settings),
        interval=settings.LINKS_REFRESH_INTERVAL,
        capacity=capacity,
    )
