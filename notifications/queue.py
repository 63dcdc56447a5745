"""Enqueue dispatch runs, one per lane; the database stays the truth when the broker is away.

The one seam between notifications' logic and its Celery tasks: messages are sent by name
(the names below, which notifications.tasks registers and the routes in settings use), so no
module of the logic imports the task module.

A `dispatch` message names a lane ("webhook:42", "email"), not deliveries: the run takes
whatever of that lane is due when it starts, so a message that arrives late or twice does
no harm (it finds nothing due, or the lane full, and leaves).

The bulkhead: the lane of a webhook endpoint whose last attempt failed (a timeout, a refused
connection, a 5xx) is dispatched on the quarantine queue, served by a process of its own, so
that a slow or failing endpoint's sends never share a process (its GIL, its threads, its
database connections) with healthy lanes. Its first success brings it back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from celery import current_app
from django.conf import settings

from common.broker import BROKER_ERRORS, LEFT_TO_SWEEPER
from notifications.lanes import Lane, lanes_of
from notifications.models import Delivery, Recipient

log = logging.getLogger(__name__)

DISPATCH = "notifications.dispatch"
SWEEP = "notifications.sweep"
TAKE_OVER = "notifications.take_over"


def enqueue(ids: Sequence[Any], countdown: float = 0) -> None:
    """A dispatch run for the lane of each of these deliveries."""
    enqueue_lanes(lanes_of(ids), countdown)


def quarantined(lanes: Iterable[Lane]) -> set[int]:
    """The endpoints among these lanes whose last attempt failed."""
    endpoints = [lane.recipient_id for lane in lanes if lane.recipient_id is not None]
    if not endpoints:
        return set()
    failing = Recipient.objects.filter(id__in=endpoints, consecutive_failures__gt=0)
    return set(failing.values_list("id", flat=True))


def queue_of(lane: Lane, quarantine: set[int]) -> str:
    if lane.recipient_id in quarantine:
        return str(settings.QUEUE_QUARANTINE)
    return str(settings.QUEUE_DELIVERIES)


def enqueue_lanes(
    lanes: Iterable[Lane], countdown: float = 0, *, to_quarantine: bool = False
) -> None:
    """When the broker cannot take a message, the lane's pending deliveries are marked as
    queued long ago (LEFT_TO_SWEEPER), so that the sweeper's next pass enqueues them.
    `to_quarantine`: on the quarantine queue without looking (the caller knows every lane's
    endpoint has just failed)."""
    lanes = list(lanes)
    quarantine = set() if to_quarantine else quarantined(lanes)
    for lane in lanes:
        try:
            queue = settings.QUEUE_QUARANTINE if to_quarantine else queue_of(lane, quarantine)
            current_app.send_task(DISPATCH, args=(str(lane),), countdown=countdown, queue=queue)
        except BROKER_ERRORS as error:
            log.warning("broker unavailable, lane %s left to the sweeper: %s", lane, error)
            pending = lane.deliveries().filter(status=Delivery.Status.PENDING)
            pending.update(queued_at=LEFT_TO_SWEEPER)


def enqueue_take_over(lane: Lane, token: uuid.UUID, cut: dict[str, Any]) -> bool:
    """Quarantine takes over a round's claim whose first contact was cut off (cutoff.py);
    False when the broker cannot take the message (the run then records it itself)."""
    try:
        args = (str(lane), str(token), cut)
        current_app.send_task(TAKE_OVER, args=args, queue=settings.QUEUE_QUARANTINE)
    except BROKER_ERRORS as error:
        log.warning("broker unavailable, lane %s: its cut-off recorded in place: %s", lane, error)
        return False
    return True
