"""Creating a batch (the one service the API, the CLI and the demo call) and expanding a prefix."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from access.grants import scope_for
from access.scopes import KeyScope, common_start
from common.retrying import PermanentError, describe
from media.clients import media_client
from media.listing import has_objects, list_pages
from notifications.models import Recipient
from notifications.recipients import (
    NewRecipient,
    RecipientConflict,
    RecipientError,
    recipient_at,
)
from tasks.batches import enqueue, keyscope, quotas
from tasks.batches.limits import refresh_limits
from tasks.batches.progress import fail_batch
from tasks.batches.spec import (
    BatchInputError,
    BatchRequest,
    InputConflict,
    NothingToShare,
    check_kept_alive,
    validate,
)
from tasks.models import Batch, BatchChunk
from tasks.refresh import meter


class StorageUnavailable(RuntimeError):
    """The media bucket did not answer while a batch was being checked."""


@dataclass(frozen=True)
class CreatedBatch:
    batch: Batch
    # (recipient, generated webhook secret): shown to the caller once, stored nowhere else
    secrets: list[tuple[Recipient, str]]


def create_batch(
    request: BatchRequest, *, owner: Any = None, scope: KeyScope | None = None
) -> CreatedBatch:
    """Check the request, store the batch (and its keys, in chunks), queue it after commit.

    `scope`: the keys the caller may share (default: the owner's grants; no owner: the
    operator's). Raises BatchInputError (OutOfScope among them), QuotaExceeded (nothing
    written) or StorageUnavailable.
    """
    now = timezone.now()
    request = validate(
        request,
        max_size=settings.LINKS_MAX_BATCH_SIZE,
        now=now,
        limits=refresh_limits(settings, meter.capacity()),
    )
    scope = scope if scope is not None else scope_for(owner)
    bucket = settings.AWS_STORAGE_BUCKET_NAME
    if not bucket:
        raise StorageUnavailable("no media bucket is configured (DJANGO_AWS_STORAGE_BUCKET_NAME)")
    refused: dict[str, str] = {}
    if request.keys is not None:
        allowed, refused = keyscope.split_keys(scope, request.keys)
        request = replace(request, keys=allowed)
    if request.prefix is not None:
        keyscope.check_prefix(scope, request.prefix)
        check_prefix_has_objects(bucket, request.prefix)
    with transaction.atomic():
        if owner is not None:
            quotas.check_new_batch(owner.pk, refreshing_keys(request), now)
        made = [
            recipient_from(owner, number, spec) for number, spec in enumerate(request.recipients)
        ]
        batch = Batch.objects.create(
            owner=owner,
            source=Batch.Source.PREFIX if request.prefix is not None else Batch.Source.KEYS,
            prefix=request.prefix or "",
            key_root=key_root(request),
            bucket=bucket,
            expires_in=request.expires_in,
            filename_from_key=request.filename_from_key,
            check_existence=request.check_existence,
            refresh=bool(request.refresh),
            refresh_until=request.refresh_until,
            refresh_margin=request.refresh_margin,
            refresh_floor=request.refresh_floor,
            notify_lapsed=request.notify_lapsed,
        )
        if made:
            batch.recipients.set([new.recipient for new in made])
        if request.keys is not None:
            keyscope.record_refused(batch, refused)
            writer = ChunkWriter(batch)
            writer.add(request.keys)
            writer.start_signing()
        else:
            enqueue.expansion_on_commit(batch.id)
    return CreatedBatch(batch, [(new.recipient, new.secret) for new in made if new.secret])


def key_root(request: BatchRequest) -> str:
    """The start all the batch's keys share (what a narrowed token's scope is matched on)."""
    if request.prefix is not None:
        return request.prefix
    return common_start(request.keys or [])


def refreshing_keys(request: BatchRequest) -> int | None:
    """The links a checked request adds to its owner's refreshing ones (0: not listed yet)."""
    if not request.refresh:
        return None
    return len(request.keys) if request.keys is not None else 0


def check_prefix_has_objects(bucket: str, prefix: str) -> None:
    try:
        found = has_objects(media_client(), bucket, prefix)
    except (BotoCoreError, ClientError) as error:
        raise StorageUnavailable(f"listing bucket {bucket!r} failed: {describe(error)}") from None
    if not found:
        raise NothingToShare("prefix", f"no objects under the prefix {prefix!r} in {bucket!r}")


def recipient_from(owner: Any, number: int, spec: dict[str, Any]) -> NewRecipient:
    try:
        return recipient_at(owner, number, spec)
    except RecipientError as error:
        kind = InputConflict if isinstance(error, RecipientConflict) else BatchInputError
        raise kind(error.field, str(error)) from None


class ChunkWriter:
    """Stores a batch's keys in chunks of LINKS_CHUNK_SIZE as they come (bounded memory)."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.size: int = settings.LINKS_CHUNK_SIZE
        self.buffer: list[str] = []
        self.chunk_ids: list[int] = []
        self.count = 0

    def add(self, keys: Iterable[str]) -> None:
        remaining = iter(keys)
        while taken := list(islice(remaining, self.size - len(self.buffer))):
            self.buffer += taken
            self.count += len(taken)
            if len(self.buffer) == self.size:
                self.flush()

    def flush(self) -> None:
        if self.buffer:
            chunk = BatchChunk.objects.create(
                batch=self.batch, index=len(self.chunk_ids), keys=self.buffer
            )
            self.chunk_ids.append(chunk.id)
            self.buffer = []

    def start_signing(self) -> None:
        """Store what is left, move the batch to signing and queue its chunks after commit."""
        self.flush()
        self.batch.total = self.count + self.batch.skipped  # keys refused before signing
        self.batch.status = Batch.Status.SIGNING
        self.batch.save(update_fields=["total", "skipped", "status"])
        enqueue.chunks_on_commit(self.chunk_ids)


def check_bucket(batch: Batch) -> None:
    if batch.bucket != settings.AWS_STORAGE_BUCKET_NAME:
        raise PermanentError(
            f"the batch is for bucket {batch.bucket!r} but the workers sign for "
            f"{settings.AWS_STORAGE_BUCKET_NAME!r} (DJANGO_AWS_STORAGE_BUCKET_NAME)"
        )


def expand_prefix(batch_id: uuid.UUID | str) -> None:
    """List a pending prefix batch into chunks, in one transaction: all of it or nothing."""
    try:
        with transaction.atomic():
            batch = (
                Batch.objects.select_for_update()
                .filter(id=batch_id, status=Batch.Status.PENDING, source=Batch.Source.PREFIX)
                .first()
            )
            if batch is None:
                return
            check_bucket(batch)
            scope = scope_for(batch.owner)
            try:
                keyscope.check_prefix(scope, batch.prefix)
            except BatchInputError as error:  # the grant was withdrawn meanwhile
                raise PermanentError(error.message) from None
            store_listing(batch, scope)
    except PermanentError as error:
        fail_batch(batch_id, str(error))


def store_listing(batch: Batch, scope: KeyScope) -> None:
    limit = settings.LINKS_MAX_BATCH_SIZE
    writer = ChunkWriter(batch)
    for page in list_pages(media_client(), batch.bucket, batch.prefix):
        shown = [key for key in page if scope.listing_filter(key)]
        allowed, refused = scope.split(shown)
        keyscope.record_refused(batch, refused)
        writer.add(allowed)
        if writer.count > limit:
            raise PermanentError(
                f"the prefix {batch.prefix!r} holds more than {limit} objects "
                "(LINKS_MAX_BATCH_SIZE): no link was made"
            )
    if not writer.count:
        if batch.skipped:
            raise PermanentError(f"no key under the prefix {batch.prefix!r} may be shared")
        raise PermanentError(f"no objects under the prefix {batch.prefix!r} any more")
    if batch.refresh and batch.owner_id is not None:
        try:
            quotas.check_refreshing_links(batch.owner_id, writer.count)
        except quotas.QuotaExceeded as error:
            raise PermanentError(f"{error}: no link was made") from None
    if batch.refresh:
        check_kept_alive_listed(batch, writer.count)
    writer.start_signing()


def check_kept_alive_listed(batch: Batch, size: int) -> None:
    """A refreshing prefix batch is held to the size the refresh pools keep alive at its TTL,
    as a key list is by create_batch (a 400 there); its size is known only once listed."""
    limits = refresh_limits(settings, meter.capacity())
    try:
        check_kept_alive(size, batch.expires_in, limits)
    except BatchInputError as error:
        raise PermanentError(f"{error.message}: no link was made") from None
