"""Purging finished batches whose links all ended long ago, in steps a SIGKILL cannot break.

Per batch: its links in chunks (by the (batch, id) index, SKIP LOCKED, each chunk in its
own short transaction, re-checking that every row deleted has ended), its skipped keys and
chunks likewise, then its manifests in the bucket, and last the batch row itself (with its
revocations and recipient rows; schedule runs keep their history with no batch) — only while
it still has no link. Killed at any step, the batch is still there and still purgeable: the
next run resumes, and nothing is ever left without its batch.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from common.purging import Pace, Tally, next_run_if_locked, short_transaction
from retention.ended import ended_before, purgeable_batches, purgeable_revocations
from retention.manifests import delete_manifests
from tasks.models import Batch, BatchChunk, ShareLink, SkippedKey

log = logging.getLogger(__name__)

BATCHES_PER_QUERY = 100


def delete_chunk(rows: QuerySet[Any], size: int) -> int:
    """Delete up to `size` of these rows (lowest ids first, locked ones skipped) in one short
    transaction; the number deleted."""
    with short_transaction():
        ids = list(rows.order_by("id").select_for_update(skip_locked=True).values_list("id")[:size])
        if not ids:
            return 0
        deleted: int = rows.model.objects.filter(id__in=[i for (i,) in ids])._raw_delete(rows.db)
        return deleted


def drain(rows: QuerySet[Any], table: str, pace: Pace, tally: Tally) -> bool:
    """Delete the rows chunk by chunk; False when the run's time is up first."""
    while pace.go_on():
        deleted = delete_chunk(rows, pace.chunk)
        tally.add(table, deleted)
        if deleted < pace.chunk:
            return True
        pace.rest()
    return False


def purge_batch(batch: Batch, cutoff: datetime, pace: Pace, tally: Tally) -> bool:
    """Everything of one batch, then the batch; False when the run's time is up first."""
    steps: list[tuple[QuerySet[Any], str]] = [
        (ShareLink.objects.filter(batch=batch).filter(ended_before(cutoff)), "share_link"),
        (SkippedKey.objects.filter(batch=batch), "skipped_key"),
        (BatchChunk.objects.filter(batch=batch), "batch_chunk"),
    ]
    for rows, table in steps:
        if not drain(rows, table, pace, tally):
            return False
    try:
        tally.add("manifest", delete_manifests(batch))
    except Exception as error:  # the bucket said no: keep the batch, the next run tries again
        log.error("retention: manifests of batch %s not deleted: %s", batch.id, error)
        tally.failed("manifest", f"batch {batch.id}: {error}")
        return True
    delete_batch_row(batch, tally)
    return True


def purge_batch_unless_locked(batch: Batch, cutoff: datetime, pace: Pace, tally: Tally) -> bool:
    """purge_batch; a lock it would wait for (lock_timeout) leaves the batch to the next run."""
    with next_run_if_locked(f"batch {batch.id}", tally):
        return purge_batch(batch, cutoff, pace, tally)
    return True


def delete_batch_row(batch: Batch, tally: Tally) -> None:
    """The batch row, only while it has no link (one that came back to life keeps it)."""
    with short_transaction():
        links = ShareLink.objects.filter(batch=OuterRef("pk"))
        row = (
            Batch.objects.filter(id=batch.id)
            .exclude(Exists(links))
            .select_for_update(skip_locked=True)
            .first()
        )
        if row is None:
            return
        _, by_model = row.delete()
    tally.add("batch", by_model.get(Batch._meta.label, 0))
    tally.add("revocation", by_model.get("tasks.Revocation", 0))


def purge(cutoff: datetime, pace: Pace) -> Tally:
    tally = Tally()
    done: set[Any] = set()  # batches left this run (a manifest the bucket refused)
    while pace.go_on():
        batches = list(purgeable_batches(cutoff).exclude(id__in=done)[:BATCHES_PER_QUERY])
        for batch in batches:
            if not purge_batch_unless_locked(batch, cutoff, pace, tally):
                tally.more = True
                return tally
            done.add(batch.id)
        if len(batches) < BATCHES_PER_QUERY:
            tally.more = not drain(purgeable_revocations(cutoff), "revocation", pace, tally)
            return tally
    tally.more = True
    return tally


def preview(cutoff: datetime) -> Tally:
    tally = Tally(dry_run=True)
    batches = purgeable_batches(cutoff)
    tally.add("batch", batches.count())
    tally.add("share_link", ShareLink.objects.filter(batch__in=batches.values("id")).count())
    tally.add("skipped_key", SkippedKey.objects.filter(batch__in=batches.values("id")).count())
    tally.add("batch_chunk", BatchChunk.objects.filter(batch__in=batches.values("id")).count())
    tally.add("revocation", purgeable_revocations(cutoff).count())
    return tally
