"""Enqueue dispatch runs, one per lane; the database stays the truth when the broker is away.

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
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from kombu.exceptions import OperationalError

if TYPE_CHECKING:
    from notifications.lanes import Lane

log = logging.getLogger(__name__)


def enqueue(ids: Sequence[Any], countdown: float = 0) -> None:
    """A dispatch run for the lane of each of these deliveries."""
    from notifications.lanes import lanes_of

    enqueue_lanes(lanes_of(ids), countdown)


def quarantined(lanes: Iterable[Lane]) -> set[int]:
    """The endpoints among these lanes whose last attempt failed."""
    from notifications.models import Recipient

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
    """When the broker cannot take a message, the lane's pending deliveries get their
    `queued_at` cleared, so that the sweeper's next pass enqueues them. `to_quarantine`: on
    the quarantine queue whatever the endpoints' state (a first contact handed over)."""
    from notifications.models import Delivery
    from notifications.tasks import dispatch

    lanes = list(lanes)
    quarantine = set() if to_quarantine else quarantined(lanes)
    for lane in lanes:
        try:
            queue = settings.QUEUE_QUARANTINE if to_quarantine else queue_of(lane, quarantine)
            dispatch.apply_async(args=(str(lane),), countdown=countdown, queue=queue)
        except OperationalError as error:
            log.warning("broker unavailable, lane %s left to the sweeper: %s", lane, error)
            lane.deliveries().filter(status=Delivery.Status.PENDING).update(queued_at=None)
