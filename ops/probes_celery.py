"""Which queues have a worker answering right now (a broadcast; for container health checks)."""

from __future__ import annotations

from celery import current_app


def answering_queues(timeout: float, host: str | None = None) -> set[str]:
    """Queues consumed by the workers that answered within `timeout` (on `host` only, if given)."""
    replies = current_app.control.inspect(timeout=timeout).active_queues() or {}
    found: set[str] = set()
    for node, queues in replies.items():
        if host is None or node.endswith(f"@{host}"):
            found.update(queue["name"] for queue in queues or [])
    return found
