"""The periodic sweep: re-dispatch what is due, recover what a lost worker left `sending`.

Celery only executes; the database says what is owed. After a Redis flush, a restart or a
killed worker, the next sweep finds every delivery that is due and not taken, and enqueues it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from notifications.models import Attempt, Delivery
from notifications.queue import enqueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    recovered: int
    enqueued: int


def recover_stuck(now: datetime, limit: int) -> int:
    """Deliveries claimed longer than DELIVERY_STUCK_AFTER ago: their worker is gone.

    Whether the request left is unknown, so the try is recorded as `lost` and the delivery
    is due again at once (same webhook-id: a receiver can drop a duplicate), unless its
    tries are spent.
    """
    cutoff = now - timedelta(seconds=settings.DELIVERY_STUCK_AFTER)
    stuck = Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=cutoff)
    recovered = 0
    for delivery in stuck.order_by("claimed_at")[:limit]:
        spent = delivery.tries > len(settings.DELIVERY_RETRY_SCHEDULE)
        taken = Delivery.objects.filter(
            id=delivery.id, status=Delivery.Status.SENDING, claim_token=delivery.claim_token
        ).update(
            status=Delivery.Status.FAILED if spent else Delivery.Status.PENDING,
            next_attempt_at=None if spent else now,
            queued_at=None,
            claim_token=None,
            claimed_at=None,
            last_error="the worker stopped while sending (claim expired)",
        )
        if taken:
            recovered += 1
            Attempt.objects.bulk_create(
                [
                    Attempt(
                        delivery=delivery,
                        number=delivery.attempt_count,
                        started_at=delivery.claimed_at or now,
                        outcome=Attempt.Outcome.LOST,
                        error="the worker stopped while sending (claim expired)",
                    )
                ],
                ignore_conflicts=True,
            )
    if recovered:
        log.warning("recovered %d deliveries left in `sending` by a lost worker", recovered)
    return recovered


def due_ids(now: datetime, limit: int) -> list[str]:
    """Pending, due, and not enqueued recently (a queued task may still be on its way)."""
    requeue = now - timedelta(seconds=settings.DELIVERY_REQUEUE_AFTER)
    due = Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now).filter(
        Q(queued_at__isnull=True) | Q(queued_at__lte=requeue)
    )
    return [str(i) for i in due.order_by("next_attempt_at").values_list("id", flat=True)[:limit]]


def sweep(now: datetime | None = None) -> SweepReport:
    now = now or timezone.now()
    limit = settings.DELIVERY_SWEEP_LIMIT
    recovered = recover_stuck(now, limit)
    ids = due_ids(now, limit)
    if ids:
        Delivery.objects.filter(id__in=ids).update(queued_at=now)
        enqueue(ids)
        log.info("sweep: enqueued %d due deliveries", len(ids))
    return SweepReport(recovered, len(ids))
