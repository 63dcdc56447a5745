"""Fairness between endpoints: a cap on attempts in flight per endpoint, a circuit breaker,
and a lane whose slowness never holds up another lane."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from demo.receiver import Receiver, Reply
from notifications import breaker, dispatcher, lanes
from notifications.lanes import Lane
from notifications.models import Attempt, Delivery, Recipient
from notifications.outbox import publish
from notifications.recipients import recipient_from_spec
from notifications.sweeper import sweep
from tests.services.drip import DripServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_worker(monkeypatch):
    """The tests run the dispatcher themselves: nothing goes to a broker."""
    monkeypatch.setattr("notifications.outbox.enqueue_lanes", lambda lanes: None)
    monkeypatch.setattr(
        "notifications.dispatcher.enqueue_lanes", lambda lanes, countdown=0, **_: None
    )


def hook(url: str) -> Recipient:
    return recipient_from_spec(None, {"webhook": url}).recipient


def publish_to(recipient: Recipient, count: int) -> list[Delivery]:
    created: list[Delivery] = []
    for n in range(count):
        created += publish("links.issued", subject=f"s{n}", recipients=[recipient], items=[])
    return created


def in_threads(*targets) -> None:  # type: ignore[no-untyped-def]
    def wrapped(target):  # type: ignore[no-untyped-def]
        try:
            target()
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapped, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# --- the cap: attempts in flight per endpoint ------------------------------------------


class Concurrency(Receiver):
    """Counts the requests it is answering at once."""

    def __init__(self, delay: float) -> None:
        super().__init__(default=Reply(200, delay=delay))
        self.now = self.most = 0
        self._count = threading.Lock()

    def next_reply(self, received):  # type: ignore[no-untyped-def]
        with self._count:
            self.now += 1
            self.most = max(self.most, self.now)
        reply = super().next_reply(received)
        time.sleep(reply.delay)
        with self._count:
            self.now -= 1
        return Reply(200)


@pytest.mark.parametrize("cap", [1, 2])
def test_no_more_attempts_in_flight_to_one_endpoint_than_the_cap(settings, cap):
    settings.DELIVERY_ENDPOINT_LANES = cap
    settings.DELIVERY_DISPATCH_BATCH = 2
    server = Concurrency(delay=0.2).start()
    try:
        endpoint = hook(server.url)
        Recipient.objects.filter(id=endpoint.id).update(last_success_at=timezone.now())
        created = publish_to(endpoint, 12)
        lane = Lane.of("webhook", endpoint.id)
        in_threads(*[lambda: dispatcher.drain(lane) for _ in range(5)])
    finally:
        server.stop()
    assert server.most == cap
    assert len(server.requests) == 12  # every one sent once: the runs in the lane took them all
    states = Delivery.objects.filter(id__in=[d.id for d in created]).values_list("status")
    assert {s for (s,) in states} == {"delivered"}


def test_an_endpoint_not_yet_proven_healthy_gets_one_lane(settings):
    settings.DELIVERY_ENDPOINT_LANES = 4
    endpoint = hook("http://127.0.0.1:9/new")
    lane = Lane.of("webhook", endpoint.id)
    assert lane.width(endpoint) == 1
    endpoint.last_success_at = timezone.now()
    assert lane.width(endpoint) == 4
    endpoint.consecutive_failures = 1
    assert lane.width(endpoint) == 1


def test_a_full_lane_turns_a_run_away_without_claiming(settings):
    settings.DELIVERY_ENDPOINT_LANES = 1
    endpoint = hook("http://127.0.0.1:9/full")
    publish_to(endpoint, 3)
    lane = Lane.of("webhook", endpoint.id)
    first = lanes.claim(lane, uuid.uuid4(), 1)
    assert len(first.deliveries) == 1
    assert lanes.claim(lane, uuid.uuid4(), 10).deliveries == []  # the lane is full
    Delivery.objects.filter(id=first.deliveries[0].id).update(lease_until=timezone.now())
    assert len(lanes.claim(lane, uuid.uuid4(), 10).deliveries) == 2  # a dead run's lease


# --- one lane's slowness does not hold up another ----------------------------------------


def test_a_hanging_endpoint_does_not_delay_another_endpoint(settings):
    settings.WEBHOOK_TIMEOUT = 3
    healthy = Receiver().start()
    with DripServer("hang") as slow:
        try:
            slow_hook, fast_hook = hook(slow.url), hook(healthy.url)
            publish_to(slow_hook, 3)
            fast = publish_to(fast_hook, 20)
            done: dict[str, float] = {}
            started = time.monotonic()

            def run(name: str, recipient: Recipient) -> None:
                dispatcher.drain(Lane.of("webhook", recipient.id))
                done[name] = time.monotonic() - started

            in_threads(lambda: run("slow", slow_hook), lambda: run("fast", fast_hook))
        finally:
            healthy.stop()
    assert len(healthy.requests) == 20
    assert Delivery.objects.filter(id__in=[d.id for d in fast], status="delivered").count() == 20
    assert done["fast"] < done["slow"]  # the healthy lane finished while the other hung


# --- the breaker -----------------------------------------------------------------------


def test_breaker_waits_follow_the_backoff_and_the_last_repeats():
    backoff = [30, 60, 300]
    assert [breaker.open_for(trips, backoff) for trips in range(5)] == [30, 60, 300, 300, 300]


def test_the_breaker_opens_after_failures_in_a_row_and_costs_no_more_attempts(settings):
    settings.DELIVERY_BREAKER_AFTER = 3
    settings.DELIVERY_BREAKER_BACKOFF = [60, 600]
    settings.DELIVERY_RETRY_SCHEDULE = [0] * 8
    server = Receiver(default=Reply(500)).start()
    try:
        endpoint = hook(server.url)
        created = publish_to(endpoint, 6)
        dispatcher.drain(Lane.of("webhook", endpoint.id))
    finally:
        server.stop()

    endpoint.refresh_from_db()
    assert len(server.requests) == 3  # then the breaker opened: no more worker time on it
    assert endpoint.breaker_state == "open" and endpoint.consecutive_failures == 3
    assert endpoint.breaker_trips == 1
    wait = (endpoint.breaker_open_until - timezone.now()).total_seconds()
    assert 50 < wait <= 60
    pending = Delivery.objects.filter(id__in=[d.id for d in created], status="pending")
    assert pending.count() == 6  # nothing failed for good: they wait for the breaker
    assert all(d.next_attempt_at >= endpoint.breaker_open_until for d in pending)
    assert sweep().enqueued == 0  # nor does the sweeper queue them meanwhile


def test_a_half_open_breaker_sends_one_probe_and_its_success_closes_it(settings):
    settings.DELIVERY_BREAKER_AFTER = 1
    server = Receiver().start()
    try:
        endpoint = hook(server.url)
        created = publish_to(endpoint, 4)
        Recipient.objects.filter(id=endpoint.id).update(
            consecutive_failures=1,
            breaker_trips=2,
            breaker_open_until=timezone.now() - timedelta(seconds=1),
        )
        lane = Lane.of("webhook", endpoint.id)
        probe = lanes.claim(lane, uuid.uuid4(), 100)
        assert probe.probe and len(probe.deliveries) == 1
        lanes.release(probe.deliveries, Delivery.objects.get(id=probe.deliveries[0].id).claim_token)
        dispatcher.drain(lane)
    finally:
        server.stop()
    endpoint.refresh_from_db()
    assert endpoint.breaker_state == "closed"
    assert (endpoint.consecutive_failures, endpoint.breaker_trips) == (0, 0)
    assert len(server.requests) == 4
    assert Delivery.objects.filter(id__in=[d.id for d in created], status="delivered").count() == 4


def test_a_failed_probe_opens_the_breaker_for_the_next_longer_wait(settings):
    settings.DELIVERY_BREAKER_AFTER = 2
    settings.DELIVERY_BREAKER_BACKOFF = [60, 600]
    server = Receiver(default=Reply(503)).start()
    try:
        endpoint = hook(server.url)
        publish_to(endpoint, 2)
        Recipient.objects.filter(id=endpoint.id).update(
            consecutive_failures=2,
            breaker_trips=1,
            breaker_open_until=timezone.now() - timedelta(seconds=1),
        )
        dispatcher.drain(Lane.of("webhook", endpoint.id))
    finally:
        server.stop()
    endpoint.refresh_from_db()
    assert len(server.requests) == 1  # the probe only
    assert endpoint.breaker_state == "open" and endpoint.breaker_trips == 2
    assert (endpoint.breaker_open_until - timezone.now()).total_seconds() > 500


def test_a_4xx_answer_does_not_count_towards_the_breaker(settings):
    settings.DELIVERY_BREAKER_AFTER = 1
    server = Receiver(default=Reply(400)).start()
    try:
        endpoint = hook(server.url)
        publish_to(endpoint, 2)
        dispatcher.drain(Lane.of("webhook", endpoint.id))
    finally:
        server.stop()
    endpoint.refresh_from_db()
    assert endpoint.breaker_state == "closed" and endpoint.consecutive_failures == 0
    assert Attempt.objects.filter(delivery__recipient=endpoint, outcome="permanent").count() == 2


def test_publishing_to_an_endpoint_whose_breaker_is_open_waits_for_it(settings):
    endpoint = hook("http://127.0.0.1:9/open")
    until = timezone.now() + timedelta(minutes=5)
    Recipient.objects.filter(id=endpoint.id).update(breaker_open_until=until, breaker_trips=1)
    endpoint.refresh_from_db()
    [delivery] = publish_to(endpoint, 1)
    assert delivery.next_attempt_at == until and delivery.queued_at is None


def test_the_api_shows_the_breaker(settings, django_user_model):
    from tests.auth import api_client_for

    user = django_user_model.objects.create_user("owner-breaker")
    endpoint = recipient_from_spec(user, {"webhook": "https://hooks.example.com/b"}).recipient
    until = timezone.now() + timedelta(minutes=5)
    Recipient.objects.filter(id=endpoint.id).update(
        breaker_open_until=until, breaker_trips=1, consecutive_failures=5
    )
    body = api_client_for(user).get(f"/api/recipients/{endpoint.id}/").json()
    assert body["breaker_state"] == "open"
    assert body["consecutive_failures"] == 5 and body["breaker_trips"] == 1
    assert body["breaker_open_until"].startswith(until.strftime("%Y-%m-%dT%H:%M"))
