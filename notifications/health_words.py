"""An endpoint's health in words, for operators: healthy, failing since … (N in a row),
paused until … (the breaker is open), or disabled. Pure: values in, a sentence out."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from notifications.models import Recipient


def when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def in_a_row(count: int) -> str:
    return f"({count} in a row)"


def health(recipient: Recipient, now: datetime) -> str:
    if recipient.disabled_at is not None:
        return f"disabled since {when(recipient.disabled_at)}: {recipient.disabled_reason or '—'}"
    failures = recipient.consecutive_failures
    paused = recipient.breaker_open_until
    if paused is not None and paused > now:
        return f"paused until {when(paused)} {in_a_row(failures)}"
    if recipient.failing_since is None and failures == 0:
        return "healthy"
    since = f" since {when(recipient.failing_since)}" if recipient.failing_since else ""
    probe = "; the next attempt probes" if paused is not None else ""
    return f"failing{since} {in_a_row(failures)}{probe}"
