"""A batch's progress as its chunks finish, and its end once none is pending.

Each finish runs under a lock on the batch row, so the chunk that finishes last
(whatever the order of commits) sees no pending chunk and ends the batch, once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.conf import settings
from django.utils import timezone

from common.dbops import atomic_with_lock_timeout
from tasks.batches import enqueue
from tasks.models import Batch, BatchChunk


def claim_chunk(chunk: BatchChunk) -> bool:
    """Mark a pending chunk done in the caller's transaction; False when it is not pending.

    The row stays locked until that transaction ends, so of two runs of one chunk only one
    gets True and writes its links: the other waits, then finds it done (or, when the first
    rolled back, pending, and does the work itself).
    """
    return bool(
        BatchChunk.objects.filter(id=chunk.id, status=BatchChunk.Status.PENDING).update(
            status=BatchChunk.Status.DONE, error="", finished_at=timezone.now()
        )
    )


def count_chunk(chunk: BatchChunk, *, signed: int, skipped: int) -> None:
    """Add a claimed chunk's counts to its batch, and end the batch when it was the last."""
    batch = Batch.objects.select_for_update().get(id=chunk.batch_id)
    batch.signed += signed
    batch.skipped += skipped
    finish_if_complete(batch)


def chunk_failed(chunk_id: int, reason: str) -> None:
    with atomic_with_lock_timeout(settings.LINKS_LOCK_TIMEOUT):
        chunk = BatchChunk.objects.select_for_update().filter(id=chunk_id).first()
        if chunk is None or chunk.status != BatchChunk.Status.PENDING:
            return
        chunk.status = BatchChunk.Status.FAILED
        chunk.error = reason
        chunk.finished_at = timezone.now()
        chunk.save(update_fields=["status", "error", "finished_at"])
        batch = Batch.objects.select_for_update().get(id=chunk.batch_id)
        batch.failed += len(chunk.keys)
        finish_if_complete(batch)


def finish_if_complete(batch: Batch) -> None:
    """Save the locked batch's counters; end it when no chunk is pending any more."""
    fields = ["signed", "skipped", "failed"]
    chunks = BatchChunk.objects.filter(batch=batch)
    signing = batch.status == Batch.Status.SIGNING
    if signing and not chunks.filter(status=BatchChunk.Status.PENDING).exists():
        failed = chunks.filter(status=BatchChunk.Status.FAILED)
        errors = list(failed.values_list("error", flat=True))
        done = chunks.filter(status=BatchChunk.Status.DONE).count()
        apply_ending(batch, errors, done_chunks=done)
        fields += ["status", "error", "finished_at", "enqueued_at"]
        if batch.status == Batch.Status.DELIVERING:
            enqueue.hand_over_on_commit(batch.id)
    batch.save(update_fields=fields)


def apply_ending(batch: Batch, chunk_errors: Sequence[str], *, done_chunks: int) -> None:
    now = timezone.now()
    if chunk_errors:
        batch.error = failure_summary(chunk_errors, done_chunks, batch.failed)
    if not done_chunks:
        batch.status, batch.finished_at = Batch.Status.FAILED, now
    elif batch.signed and batch.recipients.exists():
        batch.status, batch.enqueued_at = Batch.Status.DELIVERING, now
    else:
        batch.status, batch.finished_at = Batch.Status.DONE, now


def failure_summary(errors: Sequence[str], done_chunks: int, failed_keys: int) -> str:
    reasons = list(dict.fromkeys(errors))
    more = len(reasons) - 3
    shown = "; ".join(reasons[:3]) + (f" (and {more} other reasons)" if more > 0 else "")
    if not done_chunks:
        return f"all {len(errors)} chunks failed: {shown}"
    total = len(errors) + done_chunks
    return f"{len(errors)} of {total} chunks failed ({failed_keys} keys got no link): {shown}"


def fail_batch(batch_id: uuid.UUID | str, reason: str) -> None:
    """End an unfinished batch with the reason its listing or hand-over gave up."""
    Batch.objects.filter(id=batch_id, status__in=Batch.UNFINISHED).update(
        status=Batch.Status.FAILED, error=reason, finished_at=timezone.now()
    )
