"""Claiming due links so that two passes (or two workers) never take the same one.

The claim is a conditional UPDATE on rows locked with SKIP LOCKED: it stamps the pass's
token and pushes `refresh_at` one lease ahead, so a pass that dies leaves its links due
again once the lease is over, and a pass that outlives its lease cannot write (every
write is conditional on the token).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet

from tasks.models import ShareLink

CLAIMED_FIELDS = ("id", "batch", "bucket", "key", "filename", "ttl", "version", "refresh_until")


def due(now: datetime) -> QuerySet[ShareLink]:
    """Active links due for a refresh: one range scan of the partial index on refresh_at."""
    return ShareLink.objects.filter(status=ShareLink.Status.ACTIVE, refresh_at__lte=now)


def claim(now: datetime, limit: int, lease: timedelta) -> tuple[uuid.UUID, list[ShareLink]]:
    token = uuid.uuid4()
    with transaction.atomic():
        rows = due(now).order_by("refresh_at").select_for_update(skip_locked=True)
        ids = list(rows.values_list("id", flat=True)[:limit])
        if not ids:
            return token, []
        due(now).filter(id__in=ids).update(refresh_at=now + lease, refresh_claim=token)
    # By primary key: refresh_claim has no index, and a scan of it would cost a full table.
    claimed = ShareLink.objects.filter(id__in=ids, refresh_claim=token).only(*CLAIMED_FIELDS)
    return token, list(claimed.order_by("id"))


def mine(token: uuid.UUID, ids: Sequence[int]) -> QuerySet[ShareLink]:
    """The links among these that this pass still holds (not revoked, not re-claimed)."""
    return ShareLink.objects.filter(
        id__in=list(ids), refresh_claim=token, status=ShareLink.Status.ACTIVE
    )


def stop(token: uuid.UUID, ids: Sequence[int]) -> int:
    """No more refreshes for these: they lapse at their expiry."""
    return mine(token, ids).update(refresh_at=None, refresh_claim=None)


def release(token: uuid.UUID, ids: Sequence[int]) -> int:
    """Give these back untouched: they are due again when the lease ends."""
    return mine(token, ids).update(refresh_claim=None)
