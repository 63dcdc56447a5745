"""Per-owner quotas on batches: how many an owner may create per hour, and how many of their
links may be refreshing at once. Checked while the owner's row is locked, so that two
requests at the same moment cannot both pass the last free place.

Batches with no owner (the command line, run by the operator) have no quota.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Sum

from tasks.models import Batch, ShareLink

HOUR = timedelta(hours=1)


class QuotaExceeded(Exception):
    """A request over an owner's quota; `limit` names the setting, `retry_after` is in seconds."""

    def __init__(self, limit: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.limit = limit
        self.message = message
        self.retry_after = retry_after


def lock_owner(owner_id: Any) -> None:
    """Inside a transaction: one batch creation at a time per owner (quotas stay exact)."""
    list(get_user_model().objects.select_for_update().filter(pk=owner_id).values_list("pk"))


def check_batches_per_hour(owner_id: Any, now: datetime) -> None:
    limit = settings.LINKS_QUOTA_BATCHES_PER_HOUR
    if not limit:
        return
    recent = Batch.objects.filter(owner_id=owner_id, created_at__gt=now - HOUR)
    made = list(recent.order_by("-created_at").values_list("created_at", flat=True)[:limit])
    if len(made) < limit:
        return
    frees_at = made[-1] + HOUR  # the oldest of the last `limit` leaves the window then
    wait = max(1, int((frees_at - now).total_seconds()) + 1)
    raise QuotaExceeded(
        "LINKS_QUOTA_BATCHES_PER_HOUR",
        f"{limit} batches in the last hour is this account's limit "
        f"(LINKS_QUOTA_BATCHES_PER_HOUR); try again in {wait} s",
        retry_after=wait,
    )


def refreshing_links(owner_id: Any, up_to: int) -> int:
    """Active links of the owner still to be refreshed, plus those of their unsigned batches;
    counted up to `up_to` (enough to compare with the quota, no more)."""
    live = ShareLink.objects.filter(
        batch__owner_id=owner_id,
        batch__refresh=True,
        status=ShareLink.Status.ACTIVE,
        refresh_at__isnull=False,
    )
    counted = live.values("id")[:up_to].count()
    unsigned = Batch.objects.filter(
        owner_id=owner_id,
        refresh=True,
        status__in=[Batch.Status.PENDING, Batch.Status.SIGNING],
    ).aggregate(total=Sum("total"), signed=Sum("signed"))
    return counted + (unsigned["total"] or 0) - (unsigned["signed"] or 0)


def check_refreshing_links(owner_id: Any, adding: int) -> None:
    """Refuse when the owner's refreshing links plus `adding` would pass the quota."""
    limit = settings.LINKS_QUOTA_REFRESHING_LINKS
    if not limit:
        return
    current = refreshing_links(owner_id, limit + 1)
    room = limit - current
    if (adding and adding <= room) or (not adding and room > 0):
        return
    raise QuotaExceeded(
        "LINKS_QUOTA_REFRESHING_LINKS",
        f"this account may have {limit} refreshing links at once "
        f"(LINKS_QUOTA_REFRESHING_LINKS); it has {min(current, limit)} and this batch adds "
        f"{adding or 'more'}: revoke links, or wait for refreshing batches to reach their "
        "refresh_until",
    )


def check_new_batch(owner_id: Any, refreshing_keys: int | None, now: datetime) -> None:
    """In the creating transaction. refreshing_keys: the refreshing batch's distinct keys
    (0 for a prefix not listed yet), None when the batch does not refresh."""
    lock_owner(owner_id)
    check_batches_per_hour(owner_id, now)
    if refreshing_keys is not None:
        check_refreshing_links(owner_id, refreshing_keys)
