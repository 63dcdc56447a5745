"""Queue link tasks only once the transaction that stored their rows has committed.

The rows are the truth and the messages only a nudge: when the broker does not take a
message (down, unreachable), the caller is not failed. The rows are marked as queued long
ago (common.broker.LEFT_TO_SWEEPER), so the sweeper (tasks.batches.sweeper, every minute)
queues them again at its next run once the broker is back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from celery import current_app
from django.db import models, transaction

from common.broker import BROKER_ERRORS, LEFT_TO_SWEEPER
from common.retrying import describe
from tasks.models import Batch, BatchChunk, Revocation

log = logging.getLogger(__name__)

# The names tasks.tasks registers (and the routes in settings use).
SIGN_CHUNK = "tasks.sign_chunk"
EXPAND_BATCH = "tasks.expand_batch"
HAND_OVER_BATCH = "tasks.hand_over_batch"
REVOKE_LINKS = "tasks.revoke_links"


def left_to_sweeper(model: type[models.Model], ids: Sequence[Any], error: Exception) -> None:
    """Mark rows whose message did not go out, so the next sweep takes them."""
    log.warning(
        "the broker did not take %d %s message(s); the sweeper will queue them: %s",
        len(ids),
        model.__name__,
        describe(error),
    )
    model._default_manager.filter(pk__in=list(ids)).update(enqueued_at=LEFT_TO_SWEEPER)


def send_or_leave(model: type[models.Model], ids: Sequence[Any], task_name: str) -> None:
    """The task `task_name`(id) for each id over one producer connection, sent by name (the
    routes are by name, and this module never imports the task module); what is not sent goes
    to the sweeper."""
    sent = 0
    try:
        with current_app.producer_or_acquire() as producer:  # one connection for all the messages
            for pk in ids:
                current_app.send_task(task_name, args=(pk,), producer=producer)
                sent += 1
    except BROKER_ERRORS as error:
        left_to_sweeper(model, ids[sent:], error)


def send_on_commit(model: type[models.Model], ids: Sequence[Any], task_name: str) -> None:
    transaction.on_commit(lambda: send_or_leave(model, ids, task_name))


def chunks_on_commit(chunk_ids: Sequence[int]) -> None:
    send_on_commit(BatchChunk, list(chunk_ids), SIGN_CHUNK)


def expansion_on_commit(batch_id: uuid.UUID) -> None:
    send_on_commit(Batch, [str(batch_id)], EXPAND_BATCH)


def hand_over_on_commit(batch_id: uuid.UUID) -> None:
    send_on_commit(Batch, [str(batch_id)], HAND_OVER_BATCH)


def revocation_on_commit(revocation_id: uuid.UUID) -> None:
    send_on_commit(Revocation, [str(revocation_id)], REVOKE_LINKS)
