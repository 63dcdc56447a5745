"""Taking due links so that two passes (or two workers) never refresh the same one.

A pass takes a chunk of due links with SELECT … FOR UPDATE SKIP LOCKED and re-signs,
saves and announces them in that same transaction: rows another pass holds are skipped,
not waited for, and every write is conditional on the link still being active. A pass
that dies rolls back, and its links are simply still due: the row locks are the lease.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import QuerySet

from tasks.models import ShareLink

# expires_at: a link re-signed after it had expired is counted (lapsed without refresh).
TAKEN_FIELDS = (
    "id",
    "batch",
    "bucket",
    "key",
    "filename",
    "ttl",
    "version",
    "refresh_until",
    "expires_at",
)


def due(now: datetime) -> QuerySet[ShareLink]:
    """Active links due for a refresh: one range scan of the partial index on refresh_at."""
    return ShareLink.objects.filter(status=ShareLink.Status.ACTIVE, refresh_at__lte=now)


def take(now: datetime, limit: int) -> list[ShareLink]:
    """Inside a transaction: up to `limit` due links, locked until it ends."""
    rows = due(now).order_by("refresh_at").select_for_update(skip_locked=True, of=("self",))
    return list(rows.only(*TAKEN_FIELDS)[:limit])


def held(ids: Sequence[int]) -> QuerySet[ShareLink]:
    """The links among these that are still active (a revocation may have come first)."""
    return ShareLink.objects.filter(id__in=list(ids), status=ShareLink.Status.ACTIVE)


def stop(ids: Sequence[int]) -> int:
    """No more refreshes for these: they lapse at their expiry."""
    return held(ids).update(refresh_at=None)


def postpone(ids: Sequence[int], until: datetime) -> int:
    """Try these again later (they cannot be refreshed by this process now)."""
    return held(ids).update(refresh_at=until)
