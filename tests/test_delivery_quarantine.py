"""The bulkhead: a webhook endpoint whose last attempt failed is dispatched on the quarantine
queue, served by a worker process of its own; its first success brings it back."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
import redis
from django.conf import settings

from demo.receiver import Reply
from notifications import dispatcher
from notifications.lanes import Lane
from notifications.models import Delivery, Recipient
from notifications.outbox import publish
from notifications.queue import enqueue_lanes
from notifications.recipients import recipient_from_spec
from tests.delivery_fixtures import wait_final
from tests.helpers import wait_until
from tests.services.celery_processes import WorkerPools


def hook(failures: int = 0) -> Recipient:
    recipient = recipient_from_spec(None, {"webhook": f"http://127.0.0.1:9/{uuid.uuid4().hex}"})
    Recipient.objects.filter(id=recipient.recipient.id).update(consecutive_failures=failures)
    return recipient.recipient


@pytest.fixture
def unconsumed_queues(settings):  # type: ignore[no-untyped-def]
    """Queues of this test's own, which no worker consumes: the messages stay to be read."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    names = {
        "deliveries": f"nobody-{uuid.uuid4().hex[:8]}-deliveries",
        "quarantine": f"nobody-{uuid.uuid4().hex[:8]}-quarantine",
    }
    settings.QUEUE_DELIVERIES, settings.QUEUE_QUARANTINE = names["deliveries"], names["quarantine"]

    def lanes_in(role: str) -> list[str]:
        messages = [json.loads(raw) for raw in client.lrange(names[role], 0, -1)]
        return sorted(json.loads(base64.b64decode(m["body"]))[0][0] for m in messages)

    yield lanes_in
    client.delete(*names.values())


@pytest.mark.django_db
def test_failing_endpoints_are_dispatched_on_the_quarantine_queue(unconsumed_queues):
    healthy, failing, new = hook(0), hook(1), hook(0)

    enqueue_lanes([Lane.of("webhook", r.id) for r in (healthy, failing, new)] + [Lane("email")])

    assert unconsumed_queues("quarantine") == [f"webhook:{failing.id}"]
    assert unconsumed_queues("deliveries") == sorted(
        ["email", f"webhook:{healthy.id}", f"webhook:{new.id}"]
    )


def sent_by(pools: WorkerPools, delivery: Delivery) -> str | None:
    """The delivery pool whose log records this delivery's success (both: an error)."""
    line = (
        f"delivery {delivery.id} delivered to webhook #{delivery.recipient_id} "
        f"on attempt {delivery.attempt_count}"
    )
    found = [name for name in ("deliveries", "quarantine") if line in pools[name].log()]
    assert len(found) <= 1, found
    return found[0] if found else None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_failed_endpoint_is_retried_in_quarantine_and_comes_back_on_success(
    celery_worker, endpoint
):
    hook = endpoint(script=[Reply(500)], default=Reply(200))

    def deliver(subject: str) -> Delivery:
        return wait_final(
            publish("links.issued", subject=subject, recipients=[hook.recipient], items=[])
        )[0]

    first = deliver("q1")  # a 500, then its retry succeeds
    assert (first.status, first.attempt_count) == ("delivered", 2)
    assert wait_until(lambda: sent_by(celery_worker, first)) == "quarantine"
    second = deliver("q2")
    assert (second.status, second.attempt_count) == ("delivered", 1)
    assert wait_until(lambda: sent_by(celery_worker, second)) == "deliveries"
    assert Recipient.objects.get(id=hook.recipient.id).consecutive_failures == 0


def test_the_quarantine_queue_is_one_of_the_projects_queues():
    names = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    assert settings.QUEUE_QUARANTINE in names
    assert settings.QUEUE_QUARANTINE in settings.HEALTH_QUEUE_MAX_AGE


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("replies", "queue"),
    [
        ([Reply(500)], "quarantine"),  # failed: its retry goes to quarantine
        ([Reply(200), Reply(500)], "deliveries"),  # answered in the same run: still healthy
    ],
)
def test_a_retry_is_queued_where_its_endpoint_now_belongs(
    unconsumed_queues, endpoint, monkeypatch, replies, queue
):
    """The recorder knows the endpoint's state after a failure: the retry's queue is chosen
    without reading it back, and is the one a fresh look would choose."""
    monkeypatch.setattr("notifications.outbox.enqueue_lanes", lambda lanes: None)
    hook = endpoint(script=replies, default=Reply(200))
    for subject in ("one", "two")[: len(replies)]:
        publish("links.issued", subject=subject, recipients=[hook.recipient], items=[])
    lane = Lane.of("webhook", hook.recipient.id)

    assert dispatcher.drain(lane) == len(replies)

    other = {"quarantine": "deliveries", "deliveries": "quarantine"}[queue]
    assert set(unconsumed_queues(queue)) == {str(lane)} and unconsumed_queues(other) == []
    assert (Recipient.objects.get(id=hook.recipient.id).consecutive_failures > 0) == (
        queue == "quarantine"
    )
