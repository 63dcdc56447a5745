"""Celery tasks: thin, taking a lane or ids; the work is in dispatcher.drain and sweeper.sweep."""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings

from notifications import dispatcher, sweeper
from notifications.lanes import Lane


@shared_task(bind=True, name="notifications.tasks.dispatch", ignore_result=True)
def dispatch(self: Task, lane: str | list[str]) -> None:
    """Send what is due in the lane ("webhook:42", "email"); a list of delivery ids (the
    message of earlier versions) drains their lanes. A run from the `deliveries` queue hands
    a first contact to quarantine when its process has no first-contact slot free."""
    if isinstance(lane, list):
        dispatcher.run(lane)
    else:
        queue = (self.request.delivery_info or {}).get("routing_key")
        dispatcher.drain(Lane.parse(lane), overflow=queue == settings.QUEUE_DELIVERIES)


@shared_task(name="notifications.tasks.sweep", ignore_result=True)
def sweep() -> None:
    sweeper.sweep()
