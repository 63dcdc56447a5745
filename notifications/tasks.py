"""Celery tasks: thin, taking a lane or ids; the work is in dispatcher.drain and sweeper.sweep."""

from __future__ import annotations

from celery import shared_task

from notifications import dispatcher, sweeper
from notifications.lanes import Lane


@shared_task(name="notifications.tasks.dispatch", ignore_result=True)
def dispatch(lane: str | list[str]) -> None:
    """Send what is due in the lane ("webhook:42", "email"); a list of delivery ids (the
    message of earlier versions) drains their lanes."""
    if isinstance(lane, list):
        dispatcher.run(lane)
    else:
        dispatcher.drain(Lane.parse(lane))


@shared_task(name="notifications.tasks.sweep", ignore_result=True)
def sweep() -> None:
    sweeper.sweep()
