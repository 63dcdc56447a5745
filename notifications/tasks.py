"""Celery tasks: thin, taking ids; the work is in dispatcher.run and sweeper.sweep."""

from __future__ import annotations

from celery import shared_task

from notifications import dispatcher, sweeper


@shared_task(name="notifications.tasks.dispatch", ignore_result=True)
def dispatch(ids: list[str]) -> None:
    """Send the deliveries among `ids` that are still due; the others are left alone."""
    dispatcher.run(ids)


@shared_task(name="notifications.tasks.sweep", ignore_result=True)
def sweep() -> None:
    sweeper.sweep()
