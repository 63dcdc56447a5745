"""A first contact cut off in `deliveries` is handed, still claimed, to quarantine: there it is
recorded (its try not spent), the round's other deliveries are released, and the lane is
drained at once with the full deadline. What `deliveries` pays is one message."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common import metrics
from common.broker import LEFT_TO_SWEEPER
from demo.receiver import Reply
from notifications import cutoff, dispatcher, tasks
from notifications.lanes import Lane
from notifications.models import Attempt, Delivery, Recipient
from notifications.outbox import publish
from tests.test_broker_down import broker_refusing

CUT_OFF = "WEBHOOK_FIRST_CONTACT_TIMEOUT"


@pytest.fixture
def cut_off_soon(settings, monkeypatch):  # type: ignore[no-untyped-def]
    """A first contact cut off at 1 s; messages captured rather than sent."""
    monkeypatch.setattr("notifications.outbox.enqueue_lanes", lambda lanes: None)
    settings.WEBHOOK_TIMEOUT = 5
    settings.WEBHOOK_FIRST_CONTACT_TIMEOUT = 1
    queued: dict[str, list[Any]] = {"take_over": [], "lanes": []}
    monkeypatch.setattr(
        "notifications.dispatcher.enqueue_take_over",
        lambda *args: queued["take_over"].append(args) or True,
    )
    monkeypatch.setattr(
        "notifications.dispatcher.enqueue_lanes",
        lambda lanes, countdown=0, to_quarantine=False: queued["lanes"].append(
            ([str(lane) for lane in lanes], to_quarantine)
        ),
    )
    return queued


def three_for(recipient: Recipient) -> list[Delivery]:
    return [
        delivery
        for subject in ("one", "two", "three")
        for delivery in publish("links.issued", subject=subject, recipients=[recipient], items=[])
    ]


@pytest.mark.django_db
def test_deliveries_hands_the_cut_off_round_over_claimed_and_writes_nothing(
    cut_off_soon, endpoint, caplog
):
    sluggish = endpoint(default=Reply(200, delay=2))  # over the first contact's 1 s
    lane = Lane.of("webhook", sluggish.recipient.id)
    ids = [d.id for d in three_for(sluggish.recipient)]

    with CaptureQueriesContext(connection) as statements:
        assert dispatcher.drain(lane, in_deliveries=True) == 1

    writes = [s["sql"] for s in statements if not s["sql"].startswith("SELECT")]
    claim_writes = [sql for sql in writes if sql.startswith("UPDATE")]
    assert len(claim_writes) == 1  # the claim: no record, no release, no endpoint state
    [(handed_lane, token, cut)] = cut_off_soon["take_over"]
    assert handed_lane == lane and cut_off_soon["lanes"] == []
    assert CUT_OFF in cut["error"] and cut["latency_ms"] >= 1000
    rows = Delivery.objects.filter(id__in=ids)
    assert {(row.status, row.claim_token) for row in rows} == {("sending", token)}
    assert not Attempt.objects.filter(delivery_id__in=ids).exists()

    # quarantine takes the claim over: records, releases, and sends the retry at once
    tasks.take_over(str(lane), str(token), cut)
    with caplog.at_level(logging.ERROR, logger="notifications.cutoff"):
        tasks.take_over(str(lane), str(token), cut)  # the message taken twice: nothing more
    assert "lost its claim" not in caplog.text

    first, *others = Delivery.objects.filter(id__in=ids).order_by("created_at")
    assert (first.status, first.attempt_count, first.tries) == ("delivered", 2, 1)
    assert [(d.status, d.attempt_count) for d in others] == [("delivered", 1)] * 2
    cut_attempt = Attempt.objects.get(delivery=first, number=1)
    assert cut_attempt.outcome == Attempt.Outcome.TRANSIENT and CUT_OFF in cut_attempt.error
    assert Attempt.objects.filter(delivery_id__in=ids).count() == 4
    assert len(sluggish.receiver.requests) == 4  # the cut one, then three with the full deadline
    recipient = Recipient.objects.get(id=sluggish.recipient.id)
    assert recipient.consecutive_failures == 0 and recipient.last_success_at is not None


@pytest.mark.django_db
def test_the_take_over_records_what_a_local_record_would(cut_off_soon, endpoint, monkeypatch):
    """The same state as when `deliveries` records the cut-off itself (the broker refused the
    take-over): the try not spent, the endpoint failing, the rest released."""
    outcomes = []
    for hand_over in (True, False):
        if not hand_over:
            monkeypatch.setattr("notifications.dispatcher.enqueue_take_over", lambda *a: False)
        sluggish = endpoint(default=Reply(200, delay=2))
        lane = Lane.of("webhook", sluggish.recipient.id)
        ids = [d.id for d in three_for(sluggish.recipient)]
        assert dispatcher.drain(lane, in_deliveries=True) == 1
        if hand_over:
            [(_, token, cut)] = cut_off_soon["take_over"]
            assert cutoff.take_over(lane, token, cutoff.CutOff.from_message(cut))
        rows = Delivery.objects.filter(id__in=ids).order_by("created_at")
        recipient = Recipient.objects.get(id=sluggish.recipient.id)
        attempt = Attempt.objects.get(delivery_id=ids[0])
        outcomes.append(
            (
                [(r.status, r.attempt_count, r.tries, r.claim_token) for r in rows],
                (attempt.outcome, attempt.number, attempt.error, attempt.latency_ms >= 1000),
                (recipient.consecutive_failures, recipient.failing_since is not None),
            )
        )
    handed, local = outcomes
    assert handed == local
    assert handed[0] == [("pending", 1, 0, None), ("pending", 0, 0, None), ("pending", 0, 0, None)]
    assert handed[2] == (1, True)
    assert cut_off_soon["lanes"] == [([str(lane)], True)]  # the local record's retry message


@pytest.mark.django_db
def test_a_take_over_after_the_lease_ran_out_writes_nothing_and_says_so(
    cut_off_soon, endpoint, caplog, client
):
    sluggish = endpoint(default=Reply(200, delay=2))
    lane = Lane.of("webhook", sluggish.recipient.id)
    ids = [d.id for d in three_for(sluggish.recipient)]
    assert dispatcher.drain(lane, in_deliveries=True) == 1
    [(_, token, cut)] = cut_off_soon["take_over"]
    # the sweeper recovered the round as a lost worker's before quarantine took it over
    Delivery.objects.filter(id__in=ids).update(status="pending", claim_token=None)

    lost_before = metrics.DELIVERY_TAKEOVERS_LOST._value.get()
    with caplog.at_level(logging.ERROR, logger="notifications.cutoff"):
        assert not cutoff.take_over(lane, token, cutoff.CutOff.from_message(cut))
    assert metrics.DELIVERY_TAKEOVERS_LOST._value.get() == lost_before + 1

    assert "lost its claim" in caplog.text and "DELIVERY_LEASE_GRACE" in caplog.text
    assert not Attempt.objects.filter(delivery_id__in=ids).exists()
    assert Recipient.objects.get(id=sluggish.recipient.id).consecutive_failures == 0
    # and /healthz shows it, from what the take-over wrote down
    cache.clear()
    body = client.get("/healthz").json()
    assert "delivery_takeovers" in body["failing"]
    assert "QUARANTINE_CONCURRENCY" in body["checks"]["delivery_takeovers"]["detail"]


@pytest.mark.django_db
def test_in_quarantine_a_cut_off_first_contact_is_recorded_where_it_ran(cut_off_soon, endpoint):
    sluggish = endpoint(default=Reply(200, delay=2))
    lane = Lane.of("webhook", sluggish.recipient.id)
    [delivery] = publish("links.issued", subject="s", recipients=[sluggish.recipient], items=[])

    assert dispatcher.drain(lane) == 1  # quarantine's run (no overflow)

    assert cut_off_soon["take_over"] == []
    assert cut_off_soon["lanes"] == [([str(lane)], True)]  # its retry, on quarantine
    assert CUT_OFF in Attempt.objects.get(delivery=delivery).error


@pytest.mark.django_db
def test_with_the_broker_refusing_the_take_over_deliveries_records_the_cut_itself(
    settings, monkeypatch, endpoint
):
    monkeypatch.setattr("notifications.outbox.enqueue_lanes", lambda lanes: None)
    settings.WEBHOOK_TIMEOUT = 5
    settings.WEBHOOK_FIRST_CONTACT_TIMEOUT = 1
    sluggish = endpoint(default=Reply(200, delay=2))
    lane = Lane.of("webhook", sluggish.recipient.id)
    ids = [d.id for d in three_for(sluggish.recipient)]

    with broker_refusing():
        assert dispatcher.drain(lane, in_deliveries=True) == 1

    rows = Delivery.objects.filter(id__in=ids).order_by("created_at")
    assert [(r.status, r.attempt_count, r.tries, r.claim_token) for r in rows] == [
        ("pending", 1, 0, None),
        ("pending", 0, 0, None),
        ("pending", 0, 0, None),
    ]
    assert {r.queued_at for r in rows} == {LEFT_TO_SWEEPER}  # its retry left to the sweeper
    assert CUT_OFF in Attempt.objects.get(delivery_id=ids[0]).error
    assert Recipient.objects.get(id=sluggish.recipient.id).consecutive_failures == 1
