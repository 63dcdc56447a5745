"""Celery tasks: thin, taking a lane or ids; the work is in dispatcher.drain and sweeper.sweep."""

from __future__ import annotations

from django.conf import settings

from common.tasknames import task
from notifications import dispatcher, sweeper
from notifications.lanes import Lane
from notifications.queue import DISPATCH, SWEEP


@task(DISPATCH, ignore_result=True)
def dispatch(lane: str | list[str]) -> None:
    """Send what is due in the lane ("webhook:42", "email"); a list of delivery ids (the
    message of earlier versions) drains their lanes. A run from the `deliveries` queue hands
    a first contact to quarantine when its process has no first-contact slot free."""
    if isinstance(lane, list):
        dispatcher.run(lane)
    else:
        queue = (dispatch.request.delivery_info or {}).get("routing_key")  # this run's
        dispatcher.drain(Lane.parse(lane), overflow=queue == settings.QUEUE_DELIVERIES)


@task(SWEEP, ignore_result=True)
def sweep() -> None:
    sweeper.sweep()
