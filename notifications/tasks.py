"""Celery tasks: thin, taking a lane or ids; the work is in dispatcher.drain and sweeper.sweep."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings

from common.tasknames import task
from notifications import cutoff, dispatcher, sweeper
from notifications.lanes import Lane
from notifications.queue import DISPATCH, SWEEP, TAKE_OVER


@task(DISPATCH, ignore_result=True)
def dispatch(lane: str | list[str]) -> None:
    """Send what is due in the lane ("webhook:42", "email"); a list of delivery ids (the
    message of earlier versions) drains their lanes. A run from the `deliveries` queue has
    the first-contact slots of its process, and hands a cut-off first contact to quarantine."""
    if isinstance(lane, list):
        dispatcher.run(lane)
    else:
        queue = (dispatch.request.delivery_info or {}).get("routing_key")  # this run's
        dispatcher.drain(Lane.parse(lane), in_deliveries=queue == settings.QUEUE_DELIVERIES)


@task(TAKE_OVER, ignore_result=True)
def take_over(lane: str, token: str, cut: dict[str, Any]) -> None:
    """On quarantine: record a first contact `deliveries` cut off (its round still claimed
    under `token`), then drain the lane here: its retry, with the full deadline."""
    parsed = Lane.parse(lane)
    cutoff.take_over(parsed, uuid.UUID(token), cutoff.CutOff.from_message(cut))
    dispatcher.drain(parsed)


@task(SWEEP, ignore_result=True)
def sweep() -> None:
    sweeper.sweep()
