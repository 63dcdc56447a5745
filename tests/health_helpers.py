"""State for the /healthz and /metrics tests: heartbeats, overdue links and deliveries."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from notifications.models import Delivery
from ops import heartbeat
from tasks.models import Batch, ShareLink
from tests.refresh_helpers import issue_in_process


def beat_and_workers_alive(seconds_ago: float = 1) -> None:
    at = timezone.now() - timedelta(seconds=seconds_ago)
    heartbeat.stamp(heartbeat.BEAT, at)
    for queue in settings.HEALTH_QUEUE_MAX_AGE:
        heartbeat.stamp(heartbeat.queue_source(queue), at)


def beat_silent_for(seconds: float) -> None:
    heartbeat.stamp(heartbeat.BEAT, timezone.now() - timedelta(seconds=seconds))


def overdue_refreshing_batch(late: timedelta, keys: int = 1) -> Batch:
    """A refreshing batch whose links came due `late` ago and were not refreshed."""
    batch = issue_in_process(
        [f"overdue/{n}.pdf" for n in range(keys)], expires_in=3600, refresh=True
    )
    ShareLink.objects.filter(batch=batch).update(refresh_at=timezone.now() - late)
    return batch


def overdue_webhook_delivery(late: timedelta) -> Batch:
    batch = issue_in_process(
        ["undelivered.pdf"], expires_in=3600, recipients=[{"webhook": "http://127.0.0.1:9/hook"}]
    )
    Delivery.objects.filter(subject=str(batch.id)).update(next_attempt_at=timezone.now() - late)
    return batch
