"""A batch's refresh policy (its overrides, else the settings) and a link's next refresh time."""

from __future__ import annotations

import random
from collections.abc import Callable
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


RefreshPlanner = Callable[[datetime, datetime], datetime | None]


def refresh_planner(batch: Batch, capacity: float | None = None) -> RefreshPlanner:
    """(issued_at, expires_at) -> when the refresher re-signs a link of this batch; None: never.

    Made once per batch (the policy reads the batch, the settings and the measured rate), then
    called per link, each drawing its point in the batch's spread window.
    """
    if not batch.refresh:
        return lambda issued_at, expires_at: None
    policy, until = policy_for(batch, capacity), batch.refresh_until
    return lambda issued_at, expires_at: planned_refresh(
        policy,
        issued_at,
        expires_at,
        until,
        random.random(),  # noqa: S311 - not a secret
    )
