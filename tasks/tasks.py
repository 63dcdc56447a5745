"""Celery tasks for batches: thin — take ids, call the logic, sort failures.

A transient failure (connection, timeout, throttling, 5xx, lock timeout) is
retried with back-off up to LINKS_CHUNK_MAX_RETRIES; anything else, or the
last retry, is recorded on the row with its reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connection, models
from django.db.models import F
from django.utils import timezone

from common.retrying import PermanentError, backoff_delay, describe, is_transient
from tasks.batches import chunks, issuing, progress, sweeper
from tasks.batches.enqueue import EXPAND_BATCH, HAND_OVER_BATCH, REVOKE_LINKS, SIGN_CHUNK
from tasks.events import handover
from tasks.models import Batch, BatchChunk, Revocation
from tasks.refresh import lapsing, refresher
from tasks.revocation import revoke as revocation

log = logging.getLogger(__name__)


def retry_or_give_up(
    task: Any, error: Exception, model: type[models.Model], pk: Any
) -> float | None:
    """The countdown of the next try (noted on the row), or None when it is time to give up."""
    connection.close_if_unusable_or_obsolete()  # a lost connection is reopened for the notes
    attempt = task.request.retries
    if not is_transient(error) or attempt >= settings.LINKS_CHUNK_MAX_RETRIES:
        log.error("%s %s failed: %s", model.__name__, pk, describe(error), exc_info=error)
        return None
    countdown = backoff_delay(attempt)
    changes: dict[str, Any] = {"enqueued_at": timezone.now() + timedelta(seconds=countdown)}
    if model is BatchChunk:
        changes.update(attempts=F("attempts") + 1, error=describe(error))
    model._default_manager.filter(pk=pk).update(**changes)
    log.warning(
        "%s %s: %s; try %d in %.0f s", model.__name__, pk, describe(error), attempt + 2, countdown
    )
    return countdown


def attempt(
    task: Any,
    work: Callable[[], None],
    give_up: Callable[[str], None],
    model: type[models.Model],
    pk: Any,
) -> None:
    """Run the work; retry it when that may help, else give up with a reason."""
    try:
        work()
    except PermanentError as error:
        log.error("%s %s failed: %s", model.__name__, pk, error)
        give_up(str(error))
    except Exception as error:
        countdown = retry_or_give_up(task, error, model, pk)
        if countdown is None:
            give_up(describe(error))
            return
        raise task.retry(exc=error, countdown=countdown, max_retries=None) from None


@shared_task(bind=True, name=SIGN_CHUNK)
def sign_chunk(self: Any, chunk_id: int) -> None:
    attempt(
        self,
        lambda: chunks.sign_chunk(chunk_id),
        lambda reason: progress.chunk_failed(chunk_id, reason),
        BatchChunk,
        chunk_id,
    )


@shared_task(bind=True, name=EXPAND_BATCH)
def expand_batch(self: Any, batch_id: str) -> None:
    attempt(
        self,
        lambda: issuing.expand_prefix(batch_id),
        lambda reason: progress.fail_batch(batch_id, f"listing the prefix failed: {reason}"),
        Batch,
        batch_id,
    )


@shared_task(bind=True, name=HAND_OVER_BATCH)
def hand_over_batch(self: Any, batch_id: str) -> None:
    attempt(
        self,
        lambda: handover.hand_over(batch_id),
        lambda reason: progress.fail_batch(
            batch_id, f"handing the links to delivery failed: {reason}"
        ),
        Batch,
        batch_id,
    )


@shared_task(bind=True, name=REVOKE_LINKS)
def revoke_links(self: Any, revocation_id: str) -> None:
    """Carry out a revocation (a batch's links, in chunks, then links.revoked once)."""

    def work() -> None:
        revocation.carry_out(revocation_id)

    attempt(
        self,
        work,
        lambda reason: revocation.give_up(revocation_id, f"revoking failed: {reason}"),
        Revocation,
        revocation_id,
    )


@shared_task(name="tasks.resume_stalled_batches")
def resume_stalled_batches() -> dict[str, int]:
    older_than = timedelta(seconds=settings.LINKS_REQUEUE_AFTER)
    resumed = sweeper.resume_stalled(timezone.now(), older_than)
    if any(vars(resumed).values()):
        log.warning("re-queued stalled batch work: %s", resumed)
    return vars(resumed)


@shared_task(name="tasks.refresh_links")
def refresh_links(helper: bool = False) -> dict[str, int | bool]:
    """One bounded refresh pass (beat runs it); queues the next one at once when more are due.

    With many links due it also starts helper passes for other worker processes (up to
    LINKS_REFRESH_PARALLEL passes in all); their leases keep them on different links.
    """
    if not helper:
        wanted = refresher.passes_wanted(
            timezone.now(), settings.LINKS_REFRESH_PARALLEL, settings.LINKS_REFRESH_CHUNK
        )
        for _ in range(wanted - 1):
            refresh_links.delay(helper=True)
    report = refresher.run_pass()
    if report.more and not helper:
        refresh_links.delay()
    if report.due:
        log.info("refresh pass: %s", report)
    return vars(report)


@shared_task(name="tasks.lapse_links")
def lapse_links() -> dict[str, int | bool]:
    report = lapsing.lapse_expired(timezone.now())
    if report.more:
        lapse_links.delay()
    return vars(report)
