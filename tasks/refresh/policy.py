"""When a link must be re-signed: pure rules, no I/O.

A link is due when its remaining life falls under a margin: a fraction of its
lifetime (default 20 %) but never less than a floor (default 5 min), spread over
the part of the margin the pools do not need (RefreshPolicy). The margin
is capped at half the lifetime, so that a link shorter than twice the floor is
re-signed at mid-life instead of at every pass. The lifetime is measured from
issue to `expires_at`, and `expires_at` is already bounded by the expiry of the
credentials that signed the link, so temporary credentials pull the refresh
forward on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RefreshPolicy:
    """fraction, floor: the margin asked for. minimum: the shortest margin that survives a lost
    worker (margin.py); backlog: how long the pools take to re-sign the batch's links.

    The floor in force is at least minimum + 2 × backlog, and each link comes due at a point
    drawn (`jitter`, 0–1) from the window from margin to minimum + backlog before its expiry:
    a batch's links come due spread over at least `backlog`, which the pools keep up with, and
    the last one still has the minimum margin plus the backlog left.
    """

    fraction: float = 0.2
    floor: timedelta = timedelta(minutes=5)
    minimum: timedelta = timedelta(0)
    backlog: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1:
            raise ValueError(f"the refresh fraction must be between 0 and 1, got {self.fraction}")
        if self.floor < timedelta(0):
            raise ValueError("the refresh floor cannot be negative")

    def margin(self, lifetime: timedelta) -> timedelta:
        floor = max(self.floor, self.minimum + 2 * self.backlog)
        wanted = max(lifetime * self.fraction, floor)
        return min(wanted, lifetime / 2)

    def spread(self, margin: timedelta) -> timedelta:
        """The window a batch's links come due over (0 when the margin has no room)."""
        return max(margin - self.minimum - self.backlog, timedelta(0))

    def refresh_at(
        self, issued_at: datetime, expires_at: datetime, jitter: float = 0.0
    ) -> datetime:
        margin = self.margin(expires_at - issued_at)
        return expires_at - margin + self.spread(margin) * jitter


def keeps_refreshing(refresh: bool, refresh_until: datetime | None, now: datetime) -> bool:
    return refresh and (refresh_until is None or now < refresh_until)


def next_ttl(now: datetime, expires_in: int, refresh_until: datetime | None) -> int:
    """A re-signed link's TTL: the full TTL, but not beyond refresh_until when that is sooner."""
    if refresh_until is not None and refresh_until < now + timedelta(seconds=expires_in):
        return max(int((refresh_until - now).total_seconds()), 1)
    return expires_in


def planned_refresh(
    policy: RefreshPolicy,
    issued_at: datetime,
    expires_at: datetime,
    refresh_until: datetime | None,
    jitter: float = 0.0,
) -> datetime | None:
    """When a refreshing link is re-signed next; None on its final signature.

    A signature that lives to refresh_until (or beyond, or to within the second that
    whole-second TTLs lose) is the last one.
    """
    if refresh_until is not None and expires_at > refresh_until - timedelta(seconds=1):
        return None
    return policy.refresh_at(issued_at, expires_at, jitter)
