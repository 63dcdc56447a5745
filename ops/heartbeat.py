"""Heartbeats that show the work is being done.

Beat sends the `ops.heartbeat` task to every queue each HEALTH_HEARTBEAT_INTERVAL. In the beat
process a publish hook writes down `beat` each time it sends one (so beat's own liveness is
known whatever the workers do); a worker that takes one from its queue writes down
`queue:<name>`. `/healthz` and the metrics read both.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection
from django.utils import timezone

from ops.models import Heartbeat

log = logging.getLogger(__name__)

TASK_NAME = "ops.heartbeat"
BEAT = "beat"


def queue_source(queue: str) -> str:
    return f"queue:{queue}"


def stamp(name: str, at: datetime) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"at": at})


def latest() -> dict[str, datetime]:
    return dict(Heartbeat.objects.values_list("name", "at"))


def watch_beat_publishing(**kwargs: Any) -> None:
    """beat_init: from now on, each heartbeat this beat sends is written down as `beat`."""
    from celery import signals

    signals.after_task_publish.connect(_beat_sent, weak=False)


def _beat_sent(sender: str | None = None, **kwargs: Any) -> None:
    if sender != TASK_NAME:
        return
    try:
        stamp(BEAT, timezone.now())
    except DatabaseError as error:  # beat goes on; /healthz will say the database is down
        connection.close()  # a connection broken by a database restart is replaced next time
        log.warning("could not record beat's heartbeat: %s", error)
