"""The demo's Celery worker: in this process, on the in-memory broker (no Redis needed)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, cast

from celery import current_app


def in_process_worker() -> AbstractContextManager[Any]:
    from celery.contrib.testing.worker import start_worker

    app = cast(Any, current_app)._get_current_object()  # the project's app, not the proxy
    return start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING")
