"""A hard wall-clock deadline on every send: a receiver that drips its answer, or never
answers, is cut off at WEBHOOK_TIMEOUT (EMAIL_TIMEOUT for SMTP), recorded as a failed
attempt and retried on the schedule.

The tolerance asked of the deadline is ± 1 s; the drips are 0.2 s apart, far under the
per-operation socket timeouts, so only a whole-exchange deadline can stop them.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from django.core.mail import EmailMessage, get_connection

from demo.receiver import Receiver
from notifications import dispatcher
from notifications.deadline import Deadline
from notifications.models import Attempt, Delivery
from notifications.netguard import guarded_pool_manager
from notifications.outbox import publish
from notifications.recipients import recipient_from_spec
from notifications.transports import EmailTransport, WebhookTransport
from notifications.transports.base import TransportError
from notifications.transports.mail import DeadlineSmtpBackend
from tests.services.drip import DripServer

TIMEOUT = 3


@pytest.fixture
def short_deadline(settings):
    settings.WEBHOOK_TIMEOUT = TIMEOUT
    settings.WEBHOOK_CONNECT_TIMEOUT = 2
    settings.EMAIL_TIMEOUT = TIMEOUT
    return settings


@pytest.fixture
def retry_in_a_minute(short_deadline, monkeypatch):
    """Deliveries sent by calling the dispatcher (no broker); a retry waits exactly 60 s."""
    monkeypatch.setattr("notifications.outbox.enqueue_lanes", lambda lanes: None)
    short_deadline.DELIVERY_RETRY_SCHEDULE = [60, 60]
    short_deadline.DELIVERY_RETRY_JITTER_PERCENT = 0
    return short_deadline


def timed_post(transport: WebhookTransport, url: str) -> tuple[TransportError, float]:
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        transport.post(url, b"{}", {"Content-Type": "application/json"})
    return caught.value, time.monotonic() - started


@pytest.mark.parametrize("mode", ["status", "body", "hang"])
def test_a_slow_or_silent_receiver_is_cut_off_at_webhook_timeout(short_deadline, mode):
    with DripServer(mode) as server:
        error, elapsed = timed_post(WebhookTransport(guarded_pool_manager(2)), server.url)
        wait_until_closed(server)

    assert TIMEOUT - 1 <= elapsed <= TIMEOUT + 1
    assert "timed out" in error.message and "WEBHOOK_TIMEOUT" in error.message
    assert not error.permanent  # retried on the schedule
    assert server.requests == 1
    assert len(server.closed_after) == 1 and server.closed_after[0] <= TIMEOUT + 1


def test_a_kept_alive_connection_is_under_the_deadline_too(short_deadline):
    with DripServer("status", healthy_first=1) as server:
        transport = WebhookTransport(guarded_pool_manager(1))
        assert transport.post(server.url, b"{}", {}).status_code == 200
        error, elapsed = timed_post(transport, server.url)  # same connection, now dripping

    assert TIMEOUT - 1 <= elapsed <= TIMEOUT + 1
    assert "timed out" in error.message
    assert server.connections == 1


def test_after_a_cut_off_the_pool_serves_the_next_endpoint(short_deadline):
    healthy = Receiver().start()
    try:
        pool = guarded_pool_manager(2)
        with DripServer("body") as slow:
            timed_post(WebhookTransport(pool), slow.url)
        assert WebhookTransport(pool).post(healthy.url, b"{}", {}).status_code == 200
    finally:
        healthy.stop()


@pytest.mark.django_db
def test_a_timed_out_attempt_is_recorded_and_retried_on_the_schedule(retry_in_a_minute):
    with DripServer("status") as server:
        recipient = recipient_from_spec(None, {"webhook": server.url}).recipient
        [delivery] = publish("links.issued", subject="b", recipients=[recipient], items=[])
        assert dispatcher.run([delivery.id]) == 1  # then nothing is due for a minute

    delivery.refresh_from_db()
    [attempt] = Attempt.objects.filter(delivery=delivery)
    assert attempt.outcome == Attempt.Outcome.TRANSIENT
    assert "timed out" in attempt.error
    assert TIMEOUT * 1000 - 1000 <= attempt.latency_ms <= TIMEOUT * 1000 + 1000
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.next_attempt_at is not None
    wait = (delivery.next_attempt_at - attempt.started_at).total_seconds()
    assert 60 <= wait <= 60 + TIMEOUT + 1  # the schedule's first wait, after the attempt


def test_an_smtp_server_that_drips_its_greeting_is_cut_off_at_email_timeout(short_deadline):
    server = SlowSmtp().start()
    backend = get_connection(
        "notifications.transports.mail.DeadlineSmtpBackend",
        host="127.0.0.1",
        port=server.port,
        timeout=TIMEOUT,
        fail_silently=False,
    )
    assert isinstance(backend, DeadlineSmtpBackend)
    transport = EmailTransport(backend)
    started = time.monotonic()
    with pytest.raises(TransportError, match="EMAIL_TIMEOUT"):
        transport.send_message(
            EmailMessage("s", "b", "a@example.com", ["b@example.com"], connection=backend)
        )
    elapsed = time.monotonic() - started
    server.stop()
    assert TIMEOUT - 1 <= elapsed <= TIMEOUT + 1


class SlowSmtp:
    """Accepts, then sends its 220 greeting one byte every 0.2 s."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()

    def start(self) -> SlowSmtp:
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            for byte in b"220 slow.example ESMTP a very slow greeting indeed\r\n":
                if self.stopping.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return


def wait_until_closed(server: DripServer, timeout: float = 3) -> None:
    deadline = time.monotonic() + timeout
    while not server.closed_after and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.django_db
def test_a_timeout_ends_the_run_and_leaves_the_rest_of_the_lane_due(retry_in_a_minute):
    """A slow endpoint holds a thread for one deadline per retry, not once per queued event."""
    with DripServer("hang") as server:
        recipient = recipient_from_spec(None, {"webhook": server.url}).recipient
        ids = [
            publish("links.issued", subject=f"e{n}", recipients=[recipient], items=[])[0].id
            for n in range(3)
        ]
        started = time.monotonic()
        assert dispatcher.run(ids) == 1
        assert time.monotonic() - started < TIMEOUT + 2  # one deadline, not three

    first, *rest = Delivery.objects.filter(id__in=ids).order_by("created_at")
    assert first.status == Delivery.Status.PENDING and first.attempt_count == 1
    for delivery in rest:  # untried, due, and queued for the sweeper's requeue if need be
        assert delivery.status == Delivery.Status.PENDING
        assert (delivery.attempt_count, delivery.tries, delivery.claim_token) == (0, 0, None)
        assert delivery.queued_at is not None
    assert Attempt.objects.filter(delivery_id__in=ids).count() == 1


def blocked_read(deadline: Deadline) -> float:
    """Seconds until a read that nothing answers is woken by `deadline`."""
    mine, theirs = socket.socketpair()
    started = time.monotonic()
    try:
        with deadline:
            deadline.watch(mine)
            assert mine.recv(1) == b""  # shut down by the watchdog
        return time.monotonic() - started
    finally:
        mine.close()
        theirs.close()


def test_a_deadline_given_more_time_when_it_falls_due_cuts_off_at_the_end_of_it():
    asked: list[float] = []

    def more() -> float:
        asked.append(time.monotonic())
        return 0.4

    deadline = Deadline(0.2, then=more)
    elapsed = blocked_read(deadline)

    assert deadline.expired and len(asked) == 1  # asked once, at the first time
    assert 0.55 <= elapsed < 1.2


def test_a_deadline_refused_more_time_cuts_off_at_once_and_one_that_ends_never_asks():
    refused = Deadline(0.2, then=lambda: 0.0)
    assert 0.15 <= blocked_read(refused) < 0.6 and refused.expired

    asked: list[bool] = []
    with Deadline(0.2, then=lambda: asked.append(True) or 1.0) as ended:
        pass
    time.sleep(0.4)
    assert asked == [] and not ended.expired
