"""First contact: an endpoint that has never answered is sent to from `deliveries`, beside the
healthy lanes, under the shorter WEBHOOK_FIRST_CONTACT_TIMEOUT. Cut off there, its delivery
is retried at once in quarantine with the full WEBHOOK_TIMEOUT, its try not spent; a new
endpoint that answers goes straight through, and a known one keeps the full deadline."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from demo.receiver import Reply
from notifications import dispatcher, lanes
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


@pytest.mark.django_db
def test_with_no_first_contact_slot_free_the_lane_is_handed_to_quarantine(
    first_contact, monkeypatch, endpoint
):
    handed: list[list[str]] = []
    monkeypatch.setattr(
        "notifications.dispatcher.enqueue_lanes",
        lambda lanes, to_quarantine=False: (
            handed.append([str(lane) for lane in lanes]) if to_quarantine else None
        ),
    )
    monkeypatch.setattr("notifications.first_contact._slots", threading.BoundedSemaphore(1))
    assert first_contact_slots.take_slot()  # the one slot is taken
    new, known = endpoint(default=Reply(200)), endpoint(default=Reply(200))
    Recipient.objects.filter(id=known.recipient.id).update(last_success_at=timezone.now())
    [waiting] = publish("links.issued", subject="s", recipients=[new.recipient], items=[])
    [sent] = publish("links.issued", subject="s", recipients=[known.recipient], items=[])

    with CaptureQueriesContext(connection) as statements:
        assert dispatcher.drain(Lane.of("webhook", new.recipient.id), overflow=True) == 0
    assert dispatcher.drain(Lane.of("webhook", known.recipient.id), overflow=True) == 1
    idle = endpoint(default=Reply(200))  # new, nothing due: nothing to hand over
    assert dispatcher.drain(Lane.of("webhook", idle.recipient.id), overflow=True) == 0

    # looked at before any claim: one read (a delivery due to a new endpoint?), nothing claimed
    assert [s["sql"].split()[0] for s in statements] == ["SELECT"]

    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempt_count, waiting.tries) == ("pending", 0, 0)
    assert handed == [[f"webhook:{new.recipient.id}"]]
    assert new.receiver.requests == [] and len(known.receiver.requests) == 1
    # in quarantine (no overflow), the first contact is made without a slot
    assert dispatcher.drain(Lane.of("webhook", new.recipient.id)) == 1
    assert Delivery.objects.get(id=waiting.id).status == "delivered"
    assert Delivery.objects.get(id=sent.id).attempt_count == 1
    first_contact_slots.give_slot()
    assert first_contact_slots.take_slot()  # the slot was never kept by a run


@pytest.mark.django_db
def test_a_slot_taken_between_the_look_and_the_claim_hands_the_claimed_lane_over(
    first_contact, monkeypatch, endpoint
):
    """A slot was free when the run looked, and taken by another run while it claimed: it
    gives its claim back and hands the lane over, as before it looked first."""
    handed: list[list[str]] = []
    monkeypatch.setattr(
        "notifications.dispatcher.enqueue_lanes",
        lambda lanes, to_quarantine=False: handed.append([str(lane) for lane in lanes]),
    )
    monkeypatch.setattr("notifications.first_contact._slots", threading.BoundedSemaphore(1))
    real_claim = lanes.claim

    def claim_while_another_run_takes_the_slot(*args, **kwargs):  # type: ignore[no-untyped-def]
        assert first_contact_slots.take_slot()
        return real_claim(*args, **kwargs)

    monkeypatch.setattr("notifications.lanes.claim", claim_while_another_run_takes_the_slot)
    new = endpoint(default=Reply(200))
    [waiting] = publish("links.issued", subject="s", recipients=[new.recipient], items=[])

    assert dispatcher.drain(Lane.of("webhook", new.recipient.id), overflow=True) == 0

    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempt_count, waiting.tries) == ("pending", 0, 0)
    assert waiting.claim_token is None and handed == [[f"webhook:{new.recipient.id}"]]
    assert new.receiver.requests == []


@pytest.mark.django_db
def test_a_run_waits_briefly_for_a_slot_that_a_new_endpoint_gives_back(
    first_contact, monkeypatch, endpoint
):
    """Every slot taken by new endpoints that answer (a burst of them): they give theirs back
    within milliseconds, so the run waits for one rather than handing its lane to quarantine."""
    handed: list[object] = []
    monkeypatch.setattr(
        "notifications.dispatcher.enqueue_lanes", lambda *args, **kwargs: handed.append(args)
    )
    monkeypatch.setattr("notifications.first_contact._slots", threading.BoundedSemaphore(1))
    assert first_contact_slots.take_slot()  # another run's first contact, about to end
    threading.Timer(0.05, first_contact_slots.give_slot).start()
    new = endpoint(default=Reply(200))
    [delivery] = publish("links.issued", subject="s", recipients=[new.recipient], items=[])

    assert dispatcher.drain(Lane.of("webhook", new.recipient.id), overflow=True) == 1

    assert Delivery.objects.get(id=delivery.id).status == "delivered"
    assert handed == []
    assert first_contact_slots.take_slot()  # the run gave its slot back


@pytest.mark.django_db
def test_a_round_holds_its_slot_only_until_its_first_send_ends(
    first_contact, monkeypatch, endpoint
):
    monkeypatch.setattr("notifications.first_contact._slots", threading.BoundedSemaphore(1))
    free_at_send: list[bool] = []
    real_attempt = dispatcher.attempt

    def attempt(transport, delivery):  # type: ignore[no-untyped-def]
        free = first_contact_slots.take_slot()
        if free:
            first_contact_slots.give_slot()
        free_at_send.append(free)
        return real_attempt(transport, delivery)

    monkeypatch.setattr("notifications.dispatcher.attempt", attempt)
    new = endpoint(default=Reply(200))
    ids = [
        d.id
        for subject in ("one", "two", "three")
        for d in publish("links.issued", subject=subject, recipients=[new.recipient], items=[])
    ]

    assert dispatcher.drain(Lane.of("webhook", new.recipient.id), overflow=True) == 3

    assert free_at_send == [False, True, True]  # held for the first send only
    assert set(Delivery.objects.filter(id__in=ids).values_list("status", flat=True)) == {
        "delivered"
    }
    assert first_contact_slots.take_slot()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300)
def test_beside_a_crowd_of_new_slow_endpoints(celery_worker, endpoint, test_database_url):
    """Real pools: a crowd of new endpoints that drip their answers is cut off at the first
    contact's deadline (in `deliveries`, two at a time; the others handed to quarantine),
    recorded and retried in quarantine; a new endpoint that answers at once is delivered on its
    first attempt (from either); a new endpoint that answers in 2 s (over the first contact's
    deadline, under the full one) is delivered on its second attempt, from quarantine, with one
    try spent; a known endpoint is sent from `deliveries` as before."""
    celery_worker.stop()  # this test's pools, with its knobs, are the only ones on the queues
    pools = WorkerPools(
        test_database_url,
        {**KNOBS, "DELIVERIES_CONCURRENCY": "8", "WEBHOOK_FIRST_CONTACTS": "2"},
        ("deliveries", "quarantine"),
    )
    crowd = [DripServer("status", interval=0.3).start() for _ in range(6)]
    try:
        pools.start()
        slow_new = [recipient_from_spec(None, {"webhook": s.url}).recipient for s in crowd]
        fast_new = endpoint(default=Reply(200))
        sluggish_new = endpoint(default=Reply(200, delay=2))
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

        def crowd_cut_off() -> bool:
            cut = Attempt.objects.filter(
                delivery__recipient__in=slow_new, error__contains="WEBHOOK_FIRST_CONTACT_TIMEOUT"
            )
            return cut.count() == len(slow_new)

        wait_until(crowd_cut_off, timeout=60, what="the crowd's first contacts cut off")
        retried = Attempt.objects.filter(delivery__recipient__in=slow_new, number=2)
        wait_until(
            lambda: retried.count() == len(slow_new), timeout=60, what="retries in quarantine"
        )
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
    both = deliveries_log + quarantine_log
    assert f"delivery {fast.id} delivered" in both  # where a slot was free: no cut, no retry
    assert f"delivery {steady.id} delivered" in deliveries_log  # known: never handed over
    assert f"delivery {sluggish.id} delivered" in quarantine_log
    assert "first-contact slots all taken, handed to quarantine" in deliveries_log
    for recipient in slow_new:  # each first contact cut short (in deliveries or, when its
        # two slots were taken, in quarantine) and recorded in quarantine (cut off in
        # deliveries, taken over: cutoff.py); its retries there with the full deadline
        assert f"to webhook #{recipient.id}, attempt 1: timed out" in quarantine_log
        assert f"to webhook #{recipient.id}, attempt 2: timed out" in quarantine_log
    assert "attempt 1: timed out" not in deliveries_log
    assert "within 5 s (WEBHOOK_TIMEOUT)" in quarantine_log
    assert "within 5 s (WEBHOOK_TIMEOUT)" not in deliveries_log
    fresh = Recipient.objects.get(id=sluggish_new.recipient.id)
    assert fresh.consecutive_failures == 0 and fresh.last_success_at is not None
