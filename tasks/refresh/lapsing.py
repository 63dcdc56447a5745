"""Marking links that died as lapsed, and telling the batches that asked (`links.lapsed`).

A link lapses once it expires with no refresh ahead: its batch does not refresh, it reached
refresh_until, or its object is gone. A link still meant to be refreshed is left to the
refresher even when late (it comes back to life when re-signed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet

from tasks.events.announce import announce
from tasks.models import ShareLink

LIMIT = 5000


@dataclass
class LapseReport:
    lapsed: int = 0
    deliveries: int = 0
    more: bool = False


def expired(now: datetime) -> QuerySet[ShareLink]:
    """Active links past their expiry with no refresh ahead (the index on active expires_at)."""
    return ShareLink.objects.filter(status=ShareLink.Status.ACTIVE, expires_at__lte=now).filter(
        Q(refresh_at__isnull=True) | Q(refresh_until__lte=now)
    )


def lapse_expired(now: datetime, limit: int = LIMIT) -> LapseReport:
    with transaction.atomic():
        rows = expired(now).order_by("expires_at").select_for_update(skip_locked=True)
        pairs = list(rows.values_list("batch_id", "id")[:limit])
        if not pairs:
            return LapseReport()
        ShareLink.objects.filter(id__in=[link_id for _, link_id in pairs]).update(
            status=ShareLink.Status.LAPSED, refresh_at=None
        )
        deliveries = announce("links.lapsed", pairs, wanted=lambda batch: batch.notify_lapsed)
    return LapseReport(len(pairs), deliveries, more=len(pairs) == limit)
