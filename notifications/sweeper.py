"""The periodic sweep (every DELIVERY_SWEEP_INTERVAL): re-dispatch what is due, and recover
what a lost worker left `sending` once its lease has run out.

Celery only executes; the database says what is owed. After a Redis flush, a restart or a
killed worker, the next sweep finds every delivery that is due and not taken, and enqueues it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from notifications.lanes import Lane, lanes_of
from notifications.models import Attempt, Delivery
from notifications.queue import enqueue_lanes

log = logging.getLogger(__name__)
LOST = "the worker stopped while sending (its lease ran out)"
LEGACY_LEASE = 900  # claims made before leases existed


@dataclass(frozen=True)
class SweepReport:
    recovered: int
    enqueued: int


def recover_stuck(now: datetime, limit: int) -> list[Delivery]:
    """Deliveries whose lease ran out: their worker is gone (a live run renews its lease
    every round and never sends past it, see lanes.py).

    Whether the request left is unknown, so the try is recorded as `lost` and the delivery
    is due again at once (same webhook-id: a receiver can drop a duplicate), unless its
    tries are spent. Returns the recovered deliveries.
    """
    stuck = Delivery.objects.filter(status=Delivery.Status.SENDING).filter(
        Q(lease_until__lt=Now())
        | Q(lease_until__isnull=True, claimed_at__lt=now - timedelta(seconds=LEGACY_LEASE))
    )
    recovered = []
    for delivery in stuck.select_related("recipient").order_by("claimed_at")[:limit]:
        spent = delivery.tries > len(settings.DELIVERY_RETRY_SCHEDULE)
        taken = Delivery.objects.filter(
            id=delivery.id, status=Delivery.Status.SENDING, claim_token=delivery.claim_token
        ).update(
            status=Delivery.Status.FAILED if spent else Delivery.Status.PENDING,
            next_attempt_at=None if spent else now,
            queued_at=None if spent else now,
            claim_token=None,
            claimed_at=None,
            lease_until=None,
            last_error=LOST,
        )
        if taken:
            recovered.append(delivery)
            Attempt.objects.bulk_create(
                [
                    Attempt(
                        delivery=delivery,
                        number=delivery.attempt_count,
                        started_at=delivery.claimed_at or now,
                        outcome=Attempt.Outcome.LOST,
                        error=LOST,
                    )
                ],
                ignore_conflicts=True,
            )
    if recovered:
        log.warning("recovered %d deliveries left in `sending` by a lost worker", len(recovered))
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
    lanes = set(lanes_of(ids)) | {Lane.of(d.recipient.kind, d.recipient_id) for d in recovered}
    enqueue_lanes(sorted(lanes, key=str))
    if ids:
        log.info("sweep: enqueued %d due deliveries in %d lanes", len(ids), len(lanes))
    return SweepReport(len(recovered), len(ids))
