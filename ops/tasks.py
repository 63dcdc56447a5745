"""Thin Celery tasks of the ops app."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from ops.heartbeat import TASK_NAME, queue_source, stamp


@shared_task(name=TASK_NAME, ignore_result=True)
def heartbeat(queue: str) -> None:
    """Taken by a worker of `queue`: that queue is being consumed."""
    stamp(queue_source(queue), timezone.now())
