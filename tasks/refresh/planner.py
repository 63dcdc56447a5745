"""A batch's refresh policy (its overrides, else the settings) and a link's next refresh time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.conf import settings

from tasks.models import Batch
from tasks.refresh import meter
from tasks.refresh.margin import current_minimum
from tasks.refresh.policy import RefreshPolicy, planned_refresh


def policy_for(batch: Batch, capacity: float | None = None) -> RefreshPolicy:
    """The batch's policy; its backlog: its links at the pools' capacity (links/s, default
    measured: meter.capacity())."""
    fraction = batch.refresh_margin
    if fraction is None:
        fraction = settings.LINKS_REFRESH_MARGIN_PERCENT / 100
    floor = settings.LINKS_REFRESH_FLOOR if batch.refresh_floor is None else batch.refresh_floor
    minimum = current_minimum()
    floor = max(floor, minimum)  # never shorter than a lost worker's recovery
    capacity = meter.capacity() if capacity is None else capacity
    return RefreshPolicy(
        fraction=fraction,
        floor=timedelta(seconds=floor),
        minimum=timedelta(seconds=minimum),
        backlog=timedelta(seconds=batch.total / capacity),
    )


# (issued_at, expires_at, position) -> next refresh; position: see spread_positions().
RefreshPlanner = Callable[[datetime, datetime, float], datetime | None]


def refresh_planner(batch: Batch, capacity: float | None = None) -> RefreshPlanner:
    """(issued_at, expires_at, position) -> when the refresher re-signs a link of this batch;
    None: never.

    Made once per batch (the policy reads the batch, the settings and the measured rate), then
    called per link. At issue, `position` places the link in the batch's spread window; a
    re-signed link is planned at position 0: it was re-signed at its point of the window, so
    its next due time keeps it.
    """
    if not batch.refresh:
        return lambda issued_at, expires_at, position: None
    policy, until = policy_for(batch, capacity), batch.refresh_until
    return lambda issued_at, expires_at, position: planned_refresh(
        policy, issued_at, expires_at, until, position
    )


GOLDEN = 0.6180339887498949  # frac(n × this) spreads n = 0, 1, 2, … evenly over [0, 1)
WITHIN_CHUNK = 0.001  # the share of the window one chunk's links are spread over


def spread_positions(chunk_index: int, keys: Sequence[str]) -> dict[str, float]:
    """Where each key of a batch's chunk comes due in the batch's spread window (0-1, pure).

    Chunks land evenly over the window whatever their number (a low-discrepancy sequence of
    their index); a chunk's keys stay together, in key order. So the links a refresh pass
    takes together are neighbours in the bucket, which one ListObjectsV2 page checks
    (media/existence.py), where random due times would scatter them.
    """
    start = (chunk_index * GOLDEN) % 1.0
    ordered = sorted(keys)
    step = WITHIN_CHUNK / max(len(ordered), 1)
    return {key: min(start + rank * step, 0.999999) for rank, key in enumerate(ordered)}
