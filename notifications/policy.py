"""Pure decisions about failures: permanent or transient, and when to try again."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

TRANSIENT_HTTP = frozenset({408, 429})


def is_success(status: int) -> bool:
    return 200 <= status < 300


def is_transient_http(status: int) -> bool:
    """5xx, 408 and 429 may pass later; every other non-2xx (3xx included) will not."""
    return status >= 500 or status in TRANSIENT_HTTP


def is_transient_smtp(code: int) -> bool:
    """SMTP 4xx replies are temporary; 5xx are final."""
    return 400 <= code < 500


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def delivery_retry_delay(
    tries: int,
    schedule: Sequence[float],
    *,
    jitter_percent: int = 0,
    retry_after: float | None = None,
    max_retry_after: float = 86400,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the next try after `tries` failed ones, or None when retries are spent.

    schedule[i] is the wait before retry i+1. Jitter adds up to jitter_percent of the wait;
    a Retry-After from the server is honoured (never retry sooner), up to max_retry_after.
    """
    if tries < 1 or tries > len(schedule):
        return None
    base = float(schedule[tries - 1])
    jitter = (rng or random).uniform(0, base * jitter_percent / 100) if base else 0.0
    delay = base + jitter
    if retry_after is not None:
        delay = max(delay, min(retry_after, max_retry_after))
    return delay


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"… [{len(text) - limit} more characters]"
