"""Enqueue dispatch runs; the database stays the truth when the broker is away."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)


def chunks(values: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def enqueue(ids: Sequence[Any], countdown: float = 0) -> None:
    """One dispatch task per DELIVERY_DISPATCH_BATCH ids. When the broker cannot take them,
    their `queued_at` is cleared so that the sweeper's next pass enqueues them."""
    from notifications.models import Delivery
    from notifications.tasks import dispatch

    for chunk in chunks(list(ids), settings.DELIVERY_DISPATCH_BATCH):
        try:
            dispatch.apply_async(args=([str(i) for i in chunk],), countdown=countdown)
        except OperationalError as error:
            log.warning(
                "broker unavailable, %d deliveries left to the sweeper: %s", len(chunk), error
            )
            Delivery.objects.filter(id__in=chunk).update(queued_at=None)
