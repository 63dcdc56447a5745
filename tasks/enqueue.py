"""Queue link tasks only once the transaction that stored their rows has committed.

The rows are the truth and the messages only a nudge: when the broker does not take a
message (down, unreachable), the caller is not failed. The rows are marked as queued long
ago, so the sweeper (tasks.sweeper, every minute) queues them again at its next run once
the broker is back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from kombu.exceptions import KombuError, OperationalError

from tasks.retrying import describe

log = logging.getLogger(__name__)
BROKER_ERRORS = (KombuError, OperationalError, OSError, ConnectionError)


def left_to_sweeper(model: type[models.Model], ids: Sequence[Any], error: Exception) -> None:
    """Mark rows whose message did not go out, so the next sweep takes them."""
    log.warning(
        "the broker did not take %d %s message(s); the sweeper will queue them: %s",
        len(ids),
        model.__name__,
        describe(error),
    )
    long_ago = timezone.now() - timedelta(seconds=settings.LINKS_REQUEUE_AFTER + 1)
    model._default_manager.filter(pk__in=list(ids)).update(enqueued_at=long_ago)


def send_or_leave(model: type[models.Model], ids: Sequence[Any], task: Any) -> None:
    """task(id) for each id over one producer connection; what is not sent goes to the sweeper."""
    sent = 0
    try:
        with current_app.producer_or_acquire() as producer:  # one connection for all the messages
            for pk in ids:
                task.apply_async((pk,), producer=producer)
                sent += 1
    except BROKER_ERRORS as error:
        left_to_sweeper(model, ids[sent:], error)


def send_on_commit(model: type[models.Model], ids: Sequence[Any], task: Any) -> None:
    transaction.on_commit(lambda: send_or_leave(model, ids, task))


def chunks_on_commit(chunk_ids: Sequence[int]) -> None:
    from tasks.models import BatchChunk
    from tasks.tasks import sign_chunk

    send_on_commit(BatchChunk, list(chunk_ids), sign_chunk)


def expansion_on_commit(batch_id: uuid.UUID) -> None:
    from tasks.models import Batch
    from tasks.tasks import expand_batch

    send_on_commit(Batch, [str(batch_id)], expand_batch)


def hand_over_on_commit(batch_id: uuid.UUID) -> None:
    from tasks.models import Batch
    from tasks.tasks import hand_over_batch

    send_on_commit(Batch, [str(batch_id)], hand_over_batch)


def revocation_on_commit(revocation_id: uuid.UUID) -> None:
    from tasks.models import Revocation
    from tasks.tasks import revoke_links

    send_on_commit(Revocation, [str(revocation_id)], revoke_links)
