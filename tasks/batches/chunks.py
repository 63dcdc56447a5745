"""Signing one chunk of a batch: its links, bulk-inserted once however often it runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from common import metrics
from common.dbops import atomic_with_lock_timeout
from media.clients import existence_client
from media.existence import missing_keys
from media.signing import LinkRequest, SigningError, sign_many
from signing.disposition import filename_from_key
from tasks.batches import progress
from tasks.batches.issuing import check_bucket
from tasks.batches.linkstore import NewLink, insert_links, new_tokens
from tasks.models import Batch, BatchChunk, SkippedKey
from tasks.refresh.planner import refresh_planner, spread_positions


def sign_keys(
    batch: Batch, keys: Sequence[str], chunk_index: int = 0
) -> tuple[list[NewLink], list[SkippedKey]]:
    """A link per key, through sign_many(); a key that cannot be signed is reported, not
    fatal to the others."""
    links, skipped = [], []
    plan_refresh = refresh_planner(batch)
    positions = spread_positions(chunk_index, keys) if batch.refresh else {}
    named = batch.filename_from_key
    requests = [
        LinkRequest(key, batch.expires_in, filename_from_key(key) if named else None)
        for key in keys
    ]
    tokens = iter(new_tokens(len(requests)))
    for request, signed in zip(requests, sign_many(requests), strict=True):
        if isinstance(signed, SigningError):
            skipped.append(invalid(batch, request.key, str(signed)))
            continue
        position = positions.get(request.key, 0.0)
        refresh_at = plan_refresh(signed.issued_at, signed.expires_at, position)
        links.append(
            NewLink(
                request.key,
                signed.url,
                signed.issued_at,
                signed.expires_at,
                request.filename,
                next(tokens),
                refresh_at,
            )
        )
    return links, skipped


def invalid(batch: Batch, key: str, reason: str) -> SkippedKey:
    return SkippedKey(batch=batch, key=key, reason=SkippedKey.Reason.INVALID, detail=reason[:255])


def missing(batch: Batch, key: str) -> SkippedKey:
    return SkippedKey(
        batch=batch, key=key, reason=SkippedKey.Reason.MISSING, detail="no such object"
    )


@dataclass(frozen=True)
class SignedChunk:
    chunk: BatchChunk
    links: list[NewLink]
    skipped: list[SkippedKey]


def prepare(chunk: BatchChunk) -> SignedChunk:
    """Check which keys exist (when asked) and sign the others: no database writes."""
    batch = chunk.batch
    check_bucket(batch)
    keys: list[str] = list(chunk.keys)
    # Objects from a prefix listing exist; a key list is checked only when asked.
    check = batch.check_existence and batch.source == Batch.Source.KEYS
    absent = missing_keys(existence_client(), batch.bucket, keys) if check else set()
    links, skipped = sign_keys(batch, [key for key in keys if key not in absent], chunk.index)
    skipped += [missing(batch, key) for key in keys if key in absent]
    return SignedChunk(chunk, links, skipped)


def record(signed: SignedChunk) -> bool:
    """Claim the chunk, insert its links and count them, once: False when a run did it already
    (a retry, a redelivered message, a killed worker's message run again)."""
    with atomic_with_lock_timeout(settings.LINKS_LOCK_TIMEOUT):
        if not progress.claim_chunk(signed.chunk):
            return False
        insert_links(signed.chunk.batch, signed.links)
        SkippedKey.objects.bulk_create(signed.skipped, ignore_conflicts=True)
        progress.count_chunk(signed.chunk, signed=len(signed.links), skipped=len(signed.skipped))
        return True


def sign_chunk(chunk_id: int) -> None:
    """Sign a pending chunk of a signing batch; anything else is left as it is."""
    chunk = BatchChunk.objects.select_related("batch").filter(id=chunk_id).first()
    if chunk is None or chunk.status != BatchChunk.Status.PENDING:
        return
    if chunk.batch.status != Batch.Status.SIGNING:
        return
    signed = prepare(chunk)
    if record(signed):
        metrics.LINKS_SIGNED.inc(len(signed.links))
