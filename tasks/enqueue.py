"""Queue link tasks only once the transaction that stored their rows has committed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from celery import current_app
from django.db import transaction


def chunks_on_commit(chunk_ids: Sequence[int]) -> None:
    ids = list(chunk_ids)
    transaction.on_commit(lambda: send_chunks(ids))


def send_chunks(chunk_ids: Sequence[int]) -> None:
    from tasks.tasks import sign_chunk

    with current_app.producer_or_acquire() as producer:  # one connection for all the messages
        for chunk_id in chunk_ids:
            sign_chunk.apply_async((chunk_id,), producer=producer)


def expansion_on_commit(batch_id: uuid.UUID) -> None:
    from tasks.tasks import expand_batch

    transaction.on_commit(lambda: expand_batch.delay(str(batch_id)))


def hand_over_on_commit(batch_id: uuid.UUID) -> None:
    from tasks.tasks import hand_over_batch

    transaction.on_commit(lambda: hand_over_batch.delay(str(batch_id)))
