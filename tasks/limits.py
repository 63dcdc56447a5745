"""Limits that keep one tenant's refreshing batches from amplifying (pure: values in, values out).

A refreshing link is re-signed when its remaining life falls under the refresh margin, and
the margin is at most half its lifetime. For the new URL to reach the recipients before the
old one lapses, the half-life must cover the wait for the next refresh pass and the worst
recovery from one lost worker. So a refreshing batch's TTL is at least

    2 × (LINKS_REFRESH_INTERVAL + recovery)

and anything shorter would be re-signed (and re-announced) on every pass for nothing.
These functions are the one place that says so; they read a settings-like object.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tasks.batchspec import RefreshLimits


def recovery_seconds(settings: Any) -> int:
    """Worst case, in seconds, from a lost worker to its work being done again.

    A lost refresh pass leaves its links leased for LINKS_REFRESH_LEASE; a lost delivery is
    taken again once DELIVERY_STUCK_AFTER has passed, at the next sweep. Then one attempt.
    """
    lost_delivery = settings.DELIVERY_STUCK_AFTER + settings.DELIVERY_SWEEP_INTERVAL
    lost_pass = settings.LINKS_REFRESH_LEASE
    return max(lost_delivery, lost_pass) + settings.WEBHOOK_TIMEOUT


def derived_min_refresh_ttl(settings: Any) -> int:
    """The shortest TTL whose half-life covers a refresh interval plus the worst recovery."""
    return 2 * (settings.LINKS_REFRESH_INTERVAL + recovery_seconds(settings))


def min_refresh_ttl(settings: Any) -> int:
    """LINKS_REFRESH_MIN_TTL when set, else the derived minimum."""
    chosen = getattr(settings, "LINKS_REFRESH_MIN_TTL", None)
    return derived_min_refresh_ttl(settings) if chosen is None else int(chosen)


def default_refresh_until(now: datetime, settings: Any) -> datetime:
    """When a refreshing batch with no refresh_until stops refreshing."""
    return now + timedelta(seconds=settings.LINKS_REFRESH_MAX_LIFE)


def describe_min_ttl(settings: Any) -> str:
    """Where the minimum comes from, for an error message."""
    if getattr(settings, "LINKS_REFRESH_MIN_TTL", None) is not None:
        return "LINKS_REFRESH_MIN_TTL"
    return (
        "LINKS_REFRESH_MIN_TTL, derived: 2 × (LINKS_REFRESH_INTERVAL + the worst recovery "
        "from DELIVERY_STUCK_AFTER, DELIVERY_SWEEP_INTERVAL, LINKS_REFRESH_LEASE, WEBHOOK_TIMEOUT)"
    )


def refresh_limits(settings: Any) -> RefreshLimits:
    """The limits create_batch applies to a refreshing batch, from the settings."""
    return RefreshLimits(
        min_ttl=min_refresh_ttl(settings),
        min_ttl_source=describe_min_ttl(settings),
        max_life=settings.LINKS_REFRESH_MAX_LIFE,
    )
