"""Heartbeats: beat writes its own down when it sends one; a worker writes down its queue's."""

from __future__ import annotations

import pytest
from celery import signals

from ops import heartbeat
from ops.tasks import heartbeat as heartbeat_task

pytestmark = [pytest.mark.django_db]


def test_beat_records_a_heartbeat_each_time_it_sends_one():
    heartbeat._beat_sent(sender="tasks.refresh_links")
    assert heartbeat.BEAT not in heartbeat.latest()
    heartbeat._beat_sent(sender=heartbeat.TASK_NAME)
    assert heartbeat.BEAT in heartbeat.latest()


def test_only_a_beat_process_watches_what_it_publishes():
    receivers = signals.after_task_publish.receivers[:]
    try:
        assert not any("_beat_sent" in repr(r) for r in receivers)
        signals.beat_init.send(sender=None)
        assert len(signals.after_task_publish.receivers) == len(receivers) + 1
    finally:
        signals.after_task_publish.receivers[:] = receivers


def test_a_worker_records_the_queue_it_took_the_heartbeat_from():
    heartbeat_task("some-queue")
    assert "queue:some-queue" in heartbeat.latest()
