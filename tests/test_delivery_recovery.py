"""Recovery faster than the refresh margin: leases that run out (never while a run is merely
slow), the worst-case recovery derived from the settings, and the margin that follows."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from demo.receiver import Receiver, Reply
from notifications import dispatcher
from notifications.lanes import Lane
from notifications.models import Attempt
from notifications.outbox import publish
from notifications.recipients import recipient_from_spec
from notifications.recovery import RecoverySettings, worst_case
from notifications.sweeper import sweep
from tasks.refresh.margin import check_margin, current_minimum, minimum_margin

DEFAULTS = RecoverySettings(
    webhook_timeout=15, email_timeout=15, lease_grace=10, sweep_interval=15, requeue_after=30
)


def test_at_the_defaults_a_lost_delivery_is_sent_again_within_about_a_minute():
    # lease 15 + 1 + 10 s, noticed by the next sweep (the requeue wait of 30 s is longer),
    # then one send of at most 15 s
    assert worst_case(DEFAULTS) == 30 + 15 + 15


def test_the_worst_case_follows_each_setting():
    slow = RecoverySettings(60, 15, 10, 15, 30)  # a long webhook timeout: a long lease
    assert worst_case(slow) == (60 + 1 + 10) + 15 + 60
    assert worst_case(RecoverySettings(15, 15, 10, 120, 30)) == 30 + 120 + 15


def test_the_margin_covers_two_refresh_intervals_and_the_recovery():
    assert minimum_margin(60, DEFAULTS) == 2 * 60 + 60
    assert minimum_margin(1, RecoverySettings(2, 2, 1, 1, 1)) == 2 + (2 + 1 + 1 + 1 + 2)


@pytest.mark.django_db
def test_the_floor_in_force_is_raised_to_the_minimum_margin(settings):
    from tasks.models import Batch
    from tasks.refresh.planner import policy_for

    settings.LINKS_REFRESH_FLOOR = 10
    batch = Batch(refresh=True, refresh_floor=0, expires_in=86400)
    assert policy_for(batch).floor == timedelta(seconds=current_minimum())
    assert current_minimum() > 10


def test_a_floor_below_the_recovery_is_named_in_a_warning(settings):
    settings.LINKS_REFRESH_FLOOR = 5
    [warning] = check_margin()
    assert warning.id == "tasks.W010"
    assert "LINKS_REFRESH_FLOOR" in warning.msg and "LINKS_REFRESH_INTERVAL" in warning.hint
    assert "DELIVERY_SWEEP_INTERVAL" in warning.hint
    settings.LINKS_REFRESH_FLOOR = current_minimum()
    assert check_margin() == []


def test_settings_that_cannot_protect_any_link_stop_the_start(settings):
    settings.LINKS_REFRESH_INTERVAL = 2 * 86400
    [error] = check_margin()
    assert error.id == "tasks.E010" and "LINKS_REFRESH_INTERVAL" in error.hint
    with pytest.raises(SystemCheckError, match=r"tasks\.E010"):
        call_command("check")


@pytest.mark.django_db(transaction=True)
def test_a_slow_run_is_never_taken_over_so_nothing_is_sent_twice(settings, monkeypatch):
    """Each answer takes 1.5 s of a 2 s deadline, and the lease is 2 + 1 + 1 s: the run renews
    it round after round while a sweeper looks for expired leases all along."""
    monkeypatch.setattr("notifications.outbox.enqueue_lanes", lambda lanes: None)
    monkeypatch.setattr("notifications.sweeper.enqueue_lanes", lambda lanes: None)
    settings.WEBHOOK_TIMEOUT = 2
    settings.DELIVERY_LEASE_GRACE = 1
    server = Receiver(default=Reply(200, delay=1.5)).start()
    recovered: list[int] = []
    stop = threading.Event()

    def sweeping() -> None:
        try:
            while not stop.is_set():
                recovered.append(sweep().recovered)
                time.sleep(0.2)
        finally:
            connection.close()

    try:
        hook = recipient_from_spec(None, {"webhook": server.url}).recipient
        created = [
            publish("links.issued", subject=f"s{n}", recipients=[hook], items=[])[0]
            for n in range(4)
        ]
        sweeper = threading.Thread(target=sweeping)
        sweeper.start()
        try:
            assert dispatcher.drain(Lane.of("webhook", hook.id)) == 4
        finally:
            stop.set()
            sweeper.join()
    finally:
        server.stop()
    ids = [r.headers["webhook-id"] for r in server.requests]
    assert sorted(ids) == sorted(d.message_id for d in created)  # each once
    assert sum(recovered) == 0 and len(recovered) > 10
    assert not Attempt.objects.filter(outcome=Attempt.Outcome.LOST).exists()
