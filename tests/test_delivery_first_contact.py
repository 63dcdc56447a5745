"""First contact: an endpoint that has never answered is sent to from `deliveries`, beside the
healthy lanes, under the shorter WEBHOOK_FIRST_CONTACT_TIMEOUT. Cut off there, its delivery
is retried at once in quarantine with the full WEBHOOK_TIMEOUT, its try not spent; a new
endpoint that answers goes straight through, and a known one keeps the full deadline."""

from __future__ import annotations

import threading
import time

import pytest
from django.utils import timezone

from demo.receiver import Reply
from notifications import dispatcher
from notifications import first_contact as first_contact_slots
from notifications.lanes import Lane
from notifications.models import Attempt, Delivery, Recipient
from notifications.netguard import guarded_pool_manager
from notifications.outbox import publish
from notifications.recipients import recipient_from_spec
from notifications.transports import WebhookTransport
from notifications.transports.base import TransportError
from tests.delivery_fixtures import wait_final
from tests.helpers import wait_until
from tests.services.celery_processes import WorkerPools
from tests.services.drip import DripServer

KNOBS = {  # a first contact's deadline well under the full one
    "WEBHOOK_TIMEOUT": "5",
    "WEBHOOK_FIRST_CONTACT_TIMEOUT": "1",
    "DELIVERY_RETRY_SCHEDULE": "0,1s,1s,1s,1s",
    "DELIVERY_BREAKER_AFTER": "5",
}


@pytest.fixture
def first_contact(settings, monkeypatch):  # type: ignore[no-untyped-def]
    """The shorter first deadline; deliveries sent by calling the dispatcher (no broker)."""
    monkeypatch.setattr("notifications.outbox.enqueue_lanes", lambda lanes: None)
    settings.WEBHOOK_TIMEOUT = int(KNOBS["WEBHOOK_TIMEOUT"])
    settings.WEBHOOK_FIRST_CONTACT_TIMEOUT = int(KNOBS["WEBHOOK_FIRST_CONTACT_TIMEOUT"])
    return settings


def cut_off(recipient: Recipient, url: str) -> TransportError:
    transport = WebhookTransport(guarded_pool_manager(2))
    [delivery] = publish("links.issued", subject="s", recipients=[recipient], items=[])
    delivery.recipient = recipient
    with pytest.raises(TransportError) as caught:
        transport.send(delivery)
    return caught.value


@pytest.mark.django_db
def test_a_new_endpoint_gets_the_first_contact_deadline_a_known_one_the_full_one(first_contact):
    with DripServer("status") as server:
        new = recipient_from_spec(None, {"webhook": server.url}).recipient
        known = recipient_from_spec(None, {"webhook": server.url}).recipient
        known.last_success_at = timezone.now()
        failing = recipient_from_spec(None, {"webhook": server.url}).recipient
        failing.consecutive_failures = 1

        first = cut_off(new, server.url)
        full = [cut_off(recipient, server.url) for recipient in (known, failing)]

    assert first.timed_out and first.first_contact and not first.permanent
    assert "WEBHOOK_FIRST_CONTACT_TIMEOUT" in first.message
    for error in full:
        assert error.timed_out and not error.first_contact
        assert "(WEBHOOK_TIMEOUT)" in error.message


@pytest.mark.django_db
def test_without_a_shorter_first_deadline_every_send_has_the_full_one(first_contact):
    first_contact.WEBHOOK_FIRST_CONTACT_TIMEOUT = 0
    with DripServer("status") as server:
        new = recipient_from_spec(None, {"webhook": server.url}).recipient
        error = cut_off(new, server.url)
    assert error.timed_out and not error.first_contact and "(WEBHOOK_TIMEOUT)" in error.message


@pytest.mark.django_db
def test_a_cut_off_first_contact_is_retried_at_once_its_try_not_spent(first_contact, monkeypatch):
    queued: list[tuple[list[str], float, bool]] = []
    monkeypatch.setattr(
        "notifications.dispatcher.enqueue_lanes",
        lambda lanes, countdown=0, to_quarantine=False: queued.append(
            ([str(lane) for lane in lanes], countdown, to_quarantine)
        ),
    )
    with DripServer("status") as server:
        recipient = recipient_from_spec(None, {"webhook": server.url}).recipient
        deliveries = publish("links.issued", subject="s", recipients=[recipient], items=[])
        deliveries += publish("links.issued", subject="t", recipients=[recipient], items=[])
        assert dispatcher.run([d.id for d in deliveries]) == 1  # a timeout ends the run

    first, second = Delivery.objects.filter(id__in=[d.id for d in deliveries]).order_by(
        "created_at"
    )
    assert (first.status, first.attempt_count, first.tries) == ("pending", 1, 0)
    assert first.next_attempt_at is not None and first.next_attempt_at <= timezone.now()
    assert (second.status, second.attempt_count, second.tries) == ("pending", 0, 0)
    [attempt] = Attempt.objects.filter(delivery=first)
    assert attempt.outcome == Attempt.Outcome.TRANSIENT
    assert "WEBHOOK_FIRST_CONTACT_TIMEOUT" in attempt.error
    assert queued == [([f"webhook:{recipient.id}"], 0.0, True)]  # at once, to quarantine
    recipient.refresh_from_db()
    assert recipient.consecutive_failures == 1  # so its lane goes to quarantine
    assert recipient.breaker_open_until is None


def new_endpoint_answering_in(endpoint, seconds: float):  # type: ignore[no-untyped-def]
    new = endpoint(default=Reply(200, delay=seconds))
    [delivery] = publish("links.issued", subject="s", recipients=[new.recipient], items=[])
    delivery.recipient = new.recipient
    return new, delivery


def send_from_deliveries(delivery: Delivery, in_deliveries: bool = True) -> float:
    """Send as a `deliveries` run does; the seconds the send took."""
    transport = WebhookTransport(guarded_pool_manager(2))
    transport.in_deliveries = in_deliveries
    started = time.monotonic()
    try:
        transport.send(delivery)
    finally:
        elapsed = time.monotonic() - started
    return elapsed


@pytest.fixture
def one_slot(first_contact, monkeypatch):  # type: ignore[no-untyped-def]
    """One first-contact slot in this process; a grace of 0.3 s, a first deadline of 1 s."""
    monkeypatch.setattr("notifications.first_contact._slots", threading.BoundedSemaphore(1))
    first_contact.WEBHOOK_FIRST_CONTACT_GRACE = GRACE
    return first_contact


GRACE = 0.3


@pytest.mark.django_db
def test_a_new_endpoint_that_answers_goes_straight_through_every_slot_taken(
    one_slot, monkeypatch, endpoint
):
    """No slot is needed within the grace: a crowd holding them all cannot send a new endpoint
    that answers to quarantine, nor make it wait."""
    queued: list[object] = []
    monkeypatch.setattr("notifications.dispatcher.enqueue_lanes", lambda *a, **k: queued.append(a))
    assert first_contact_slots.take_slot()  # the one slot: held by a slow first contact
    new = endpoint(default=Reply(200))
    ids = [
        d.id
        for subject in ("one", "two", "three")
        for d in publish("links.issued", subject=subject, recipients=[new.recipient], items=[])
    ]

    assert dispatcher.drain(Lane.of("webhook", new.recipient.id), in_deliveries=True) == 3

    assert set(Delivery.objects.filter(id__in=ids).values_list("status", flat=True)) == {
        "delivered"
    }
    assert Attempt.objects.filter(delivery__in=ids).count() == 3 and queued == []
    assert not first_contact_slots.take_slot()  # still the crowd's: none was given or taken


@pytest.mark.django_db
def test_past_its_grace_a_first_contact_runs_on_to_its_deadline_with_a_slot(one_slot, endpoint):
    new, delivery = new_endpoint_answering_in(endpoint, 0.6)
    held_meanwhile: list[bool] = []

    def look_at_the_slot() -> None:  # at 0.45 s: past the grace, before the answer
        free = first_contact_slots.take_slot()
        if free:
            first_contact_slots.give_slot()
        held_meanwhile.append(not free)

    threading.Timer(0.45, look_at_the_slot).start()
    elapsed = send_from_deliveries(delivery)

    assert 0.6 <= elapsed < 1.0 and len(new.receiver.requests) == 1
    assert held_meanwhile == [True]  # the send took the slot at its grace...
    assert first_contact_slots.take_slot()  # ...and gave it back when it ended


@pytest.mark.django_db
def test_past_its_grace_with_every_slot_taken_a_first_contact_is_cut_off_there(one_slot, endpoint):
    assert first_contact_slots.take_slot()  # the crowd holds the one slot
    _, delivery = new_endpoint_answering_in(endpoint, 0.6)

    with pytest.raises(TransportError) as caught:
        send_from_deliveries(delivery)

    error = caught.value
    assert error.timed_out and error.first_contact and not error.permanent  # taken over
    assert "WEBHOOK_FIRST_CONTACT_GRACE, WEBHOOK_FIRST_CONTACTS" in error.message
    assert "within 0.3 s" in error.message
    first_contact_slots.give_slot()
    assert first_contact_slots.take_slot()  # the cut-off send kept none


@pytest.mark.django_db
def test_cut_off_at_its_grace_the_first_contact_is_taken_over_by_quarantine(
    one_slot, monkeypatch, endpoint
):
    taken_over: list[tuple[str, str]] = []
    monkeypatch.setattr(
        "notifications.dispatcher.enqueue_take_over",
        lambda lane, token, cut: taken_over.append((str(lane), cut["error"])) or True,
    )
    assert first_contact_slots.take_slot()
    new, delivery = new_endpoint_answering_in(endpoint, 0.6)
    started = time.monotonic()

    assert dispatcher.drain(Lane.of("webhook", new.recipient.id), in_deliveries=True) == 1

    assert time.monotonic() - started < 0.6  # cut at the grace, not at the first deadline
    [(lane, error)] = taken_over
    assert lane == f"webhook:{new.recipient.id}" and "WEBHOOK_FIRST_CONTACT_GRACE" in error
    delivery.refresh_from_db()
    assert delivery.status == "sending"  # still claimed: quarantine records it (cutoff.py)


@pytest.mark.django_db
def test_outside_deliveries_a_first_contact_needs_no_slot(one_slot, endpoint):
    """Quarantine makes first contacts (a lane that came there) with the whole first deadline."""
    assert first_contact_slots.take_slot()
    new, delivery = new_endpoint_answering_in(endpoint, 0.6)

    elapsed = send_from_deliveries(delivery, in_deliveries=False)

    assert 0.6 <= elapsed < 1.0 and len(new.receiver.requests) == 1


@pytest.mark.django_db
def test_a_grace_as_long_as_the_first_deadline_takes_no_slot(one_slot, endpoint):
    one_slot.WEBHOOK_FIRST_CONTACT_GRACE = 1
    assert first_contact_slots.take_slot()
    _, delivery = new_endpoint_answering_in(endpoint, 0.6)

    assert 0.6 <= send_from_deliveries(delivery) < 1.0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300)
def test_beside_a_crowd_of_new_slow_endpoints(celery_worker, endpoint, test_database_url):
    """Real pools: a crowd of new endpoints that drip their answers is cut off in `deliveries`
    (two at their first deadline, with the two slots; the others at their grace) and taken over,
    recorded and retried in quarantine; a new endpoint that answers at once is delivered from
    `deliveries` on its first attempt; a new endpoint that answers in 3 s (over the first
    contact's deadline, under the full one) is delivered on its second attempt, from
    quarantine, with one try spent; a known endpoint is sent from `deliveries` as before."""
    celery_worker.stop()  # this test's pools, with its knobs, are the only ones on the queues
    knobs = {
        **KNOBS,
        "WEBHOOK_FIRST_CONTACT_TIMEOUT": "2",
        "WEBHOOK_FIRST_CONTACT_GRACE": "1",
        "DELIVERIES_CONCURRENCY": "8",
        "WEBHOOK_FIRST_CONTACTS": "2",
    }
    pools = WorkerPools(test_database_url, knobs, ("deliveries", "quarantine"))
    crowd = [DripServer("status", interval=0.3).start() for _ in range(6)]
    try:
        pools.start()
        slow_new = [recipient_from_spec(None, {"webhook": s.url}).recipient for s in crowd]
        fast_new = endpoint(default=Reply(200))
        sluggish_new = endpoint(default=Reply(200, delay=3))
        known = endpoint(default=Reply(200))
        Recipient.objects.filter(id=known.recipient.id).update(last_success_at=timezone.now())

        publish("links.issued", subject="crowd", recipients=slow_new, items=[])
        fast, sluggish, steady = publish(
            "links.issued",
            subject="others",
            recipients=[fast_new.recipient, sluggish_new.recipient, known.recipient],
            items=[],
        )
        final = {d.recipient_id: d for d in wait_final([fast, sluggish, steady], timeout=60)}
        fast, sluggish, steady = (final[e.recipient.id] for e in (fast_new, sluggish_new, known))

        crowd_attempts = Attempt.objects.filter(delivery__recipient__in=slow_new)
        wait_until(
            lambda: crowd_attempts.filter(number=2).count() == len(slow_new),
            timeout=60,
            what="the crowd's first contacts cut off, then retried in quarantine",
        )
        first_errors = list(crowd_attempts.filter(number=1).values_list("error", flat=True))
    finally:
        pools.stop()
        for server in crowd:
            server.stop()
        celery_worker.start()

    assert (fast.status, fast.attempt_count, fast.tries) == ("delivered", 1, 1)
    assert (steady.status, steady.attempt_count) == ("delivered", 1)
    errors = list(Attempt.objects.filter(delivery=sluggish).values_list("error", flat=True))
    assert (sluggish.status, sluggish.attempt_count, sluggish.tries) == ("delivered", 2, 1), errors
    deliveries_log, quarantine_log = pools["deliveries"].log(), pools["quarantine"].log()
    assert f"delivery {fast.id} delivered" in deliveries_log  # never waits, never leaves
    assert f"delivery {steady.id} delivered" in deliveries_log
    assert f"delivery {sluggish.id} delivered" in quarantine_log
    assert "handed to quarantine" not in deliveries_log
    at_grace = [e for e in first_errors if "within 1 s of a first contact" in e]
    at_deadline = [e for e in first_errors if "within 2 s (WEBHOOK_FIRST_CONTACT_TIMEOUT)" in e]
    assert len(at_grace) + len(at_deadline) == len(slow_new), first_errors
    assert at_grace and at_deadline, first_errors  # two slots for six: some of each
    for recipient in slow_new:  # each cut off in deliveries, recorded in quarantine (taken
        # over: cutoff.py), and retried there with the full deadline
        assert f"to webhook #{recipient.id}, attempt 1: timed out" in quarantine_log
        assert f"to webhook #{recipient.id}, attempt 2: timed out" in quarantine_log
    assert "attempt 1: timed out" not in deliveries_log
    assert "within 5 s (WEBHOOK_TIMEOUT)" in quarantine_log
    assert "within 5 s (WEBHOOK_TIMEOUT)" not in deliveries_log
    fresh = Recipient.objects.get(id=sluggish_new.recipient.id)
    assert fresh.consecutive_failures == 0 and fresh.last_success_at is not None
