"""A dispatch run: claim due deliveries, send them through one transport per channel, record.

Claims are conditional updates (`status='pending' AND due`), so two workers never send the
same attempt; results are written only under the run's claim token, so a run whose claim
was taken over (a worker thought lost) cannot overwrite the newer state.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from itertools import groupby
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from notifications.models import Delivery
from notifications.queue import enqueue
from notifications.recorder import Recorder, Result
from notifications.transports import TRANSPORTS, Transport, TransportError

log = logging.getLogger(__name__)
CLOCK_TOLERANCE = timedelta(seconds=1)  # a countdown task may arrive a hair early


def claim(ids: Sequence[Any], token: uuid.UUID) -> list[Delivery]:
    now = timezone.now()
    Delivery.objects.filter(
        id__in=ids, status=Delivery.Status.PENDING, next_attempt_at__lte=now + CLOCK_TOLERANCE
    ).update(
        status=Delivery.Status.SENDING,
        claimed_at=now,
        claim_token=token,
        attempt_count=F("attempt_count") + 1,
        tries=F("tries") + 1,
    )
    claimed = Delivery.objects.filter(id__in=ids, claim_token=token).select_related(
        "recipient", "body"
    )
    return list(claimed.order_by("recipient__kind", "recipient_id", "created_at", "part"))


def release(deliveries: Sequence[Delivery], token: uuid.UUID) -> None:
    """Give back claimed deliveries that this run had no time to send, and enqueue them."""
    if not deliveries:
        return
    ids = [d.id for d in deliveries]
    Delivery.objects.filter(id__in=ids, claim_token=token).update(
        status=Delivery.Status.PENDING,
        claim_token=None,
        claimed_at=None,
        attempt_count=F("attempt_count") - 1,
        tries=F("tries") - 1,
        queued_at=timezone.now(),
    )
    enqueue(ids)


def attempt(transport: Transport, delivery: Delivery) -> Result:
    started_at, started = timezone.now(), time.monotonic()
    try:
        sent = transport.send(delivery)
        error: TransportError | None = None
    except TransportError as failure:
        sent, error = None, failure
    except Exception as bug:  # one broken delivery must not strand the others of the run
        log.exception("delivery %s: unexpected error", delivery.id)
        sent, error = None, TransportError(f"internal error: {type(bug).__name__}")
    latency_ms = int((time.monotonic() - started) * 1000)
    return Result(delivery, started_at, latency_ms, sent, error)


def run(ids: Sequence[Any], transports: dict[str, type[Transport]] | None = None) -> int:
    """Send the due ones among `ids`; returns how many were attempted."""
    token = uuid.uuid4()
    claimed = claim(ids, token)
    if not claimed:
        return 0
    deadline = time.monotonic() + settings.DELIVERY_RUN_BUDGET
    recorder = Recorder(token)
    leftovers: list[Delivery] = []
    try:
        for kind, grouped in groupby(claimed, key=lambda d: d.recipient.kind):
            group = list(grouped)
            with (transports or TRANSPORTS)[kind]() as transport:
                transport.prepare(group)
                for delivery in group:
                    if time.monotonic() > deadline:
                        leftovers.append(delivery)
                    elif (
                        delivery.recipient_id in recorder.disabled or delivery.recipient.is_disabled
                    ):
                        recorder.skip_disabled(delivery)
                    else:
                        recorder.add(attempt(transport, delivery))
    finally:
        recorder.flush()
        release(leftovers, token)
    return len(claimed) - len(leftovers)
