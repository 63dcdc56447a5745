"""A batch's refresh policy (its overrides, else the settings) and a link's next refresh time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings

from tasks.models import Batch
from tasks.refresh.margin import current_minimum
from tasks.refresh.policy import RefreshPolicy, planned_refresh


def policy_for(batch: Batch) -> RefreshPolicy:
    fraction = batch.refresh_margin
    if fraction is None:
        fraction = settings.LINKS_REFRESH_MARGIN_PERCENT / 100
    floor = settings.LINKS_REFRESH_FLOOR if batch.refresh_floor is None else batch.refresh_floor
    floor = max(floor, current_minimum())  # never shorter than a lost worker's recovery
    return RefreshPolicy(fraction=fraction, floor=timedelta(seconds=floor))


RefreshPlanner = Callable[[datetime, datetime], datetime | None]


def refresh_planner(batch: Batch) -> RefreshPlanner:
    """(issued_at, expires_at) -> when the refresher re-signs a link of this batch; None: never.

    Made once per batch (the policy reads the batch and the settings), then called per link.
    """
    if not batch.refresh:
        return lambda issued_at, expires_at: None
    policy, until = policy_for(batch), batch.refresh_until
    return lambda issued_at, expires_at: planned_refresh(policy, issued_at, expires_at, until)
