"""A batch's refresh policy (its overrides, else the settings) and a link's next refresh time."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from tasks.models import Batch
from tasks.refresh.policy import RefreshPolicy, planned_refresh


def policy_for(batch: Batch) -> RefreshPolicy:
    fraction = batch.refresh_margin
    if fraction is None:
        fraction = settings.LINKS_REFRESH_MARGIN_PERCENT / 100
    floor = settings.LINKS_REFRESH_FLOOR if batch.refresh_floor is None else batch.refresh_floor
    return RefreshPolicy(fraction=fraction, floor=timedelta(seconds=floor))


def refresh_at_for(batch: Batch, issued_at: datetime, expires_at: datetime) -> datetime | None:
    """When the refresher re-signs a link of this batch signed now; None: it will not."""
    if not batch.refresh:
        return None
    return planned_refresh(policy_for(batch), issued_at, expires_at, batch.refresh_until)
