"""Re-queue batch work whose message was lost (a SIGKILLed worker, a Redis restart, a broker
that was down when the work was stored), and revocations left unfinished.

The database says what is unfinished. A sweep locks the stale rows it takes (another
sweep skips them) and moves their `enqueued_at`, so each is queued once per window.
Running a chunk twice is harmless: links are unique per (batch, key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from tasks.batches import enqueue
from tasks.models import Batch, BatchChunk, Revocation


@dataclass(frozen=True)
class Resumed:
    chunks: int
    expansions: int
    hand_overs: int
    revocations: int = 0


def resume_stalled(now: datetime, older_than: timedelta) -> Resumed:
    cutoff = now - older_than
    with transaction.atomic():
        chunk_ids = claim(
            BatchChunk.objects.filter(
                status=BatchChunk.Status.PENDING, batch__status=Batch.Status.SIGNING
            ),
            cutoff,
            now,
        )
        enqueue.chunks_on_commit(chunk_ids)
        expansions = claim(Batch.objects.filter(status=Batch.Status.PENDING), cutoff, now)
        hand_overs = claim(Batch.objects.filter(status=Batch.Status.DELIVERING), cutoff, now)
        for batch_id in expansions:
            enqueue.expansion_on_commit(batch_id)
        for batch_id in hand_overs:
            enqueue.hand_over_on_commit(batch_id)
        revocations = claim(
            Revocation.objects.filter(status__in=Revocation.UNFINISHED), cutoff, now
        )
        for revocation_id in revocations:
            enqueue.revocation_on_commit(revocation_id)
    return Resumed(len(chunk_ids), len(expansions), len(hand_overs), len(revocations))


def claim(rows: QuerySet[Any], cutoff: datetime, now: datetime) -> list[Any]:
    """Ids of rows queued before the cutoff (at most LINKS_SWEEP_LIMIT), locked (others skip
    them) and marked queued now."""
    stale = rows.filter(enqueued_at__lt=cutoff).order_by("enqueued_at")
    locked = stale.select_for_update(skip_locked=True, of=("self",))
    ids = list(locked.values_list("id", flat=True)[: settings.LINKS_SWEEP_LIMIT])
    rows.model.objects.filter(id__in=ids).update(enqueued_at=now)
    return ids
