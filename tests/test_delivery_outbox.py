"""The outbox: what publish writes, and nothing lost or sent twice when workers or Redis fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import pytest
import redis
from django.db import connection, transaction

from demo.receiver import Reply
from notifications import dispatcher
from notifications.models import Attempt, Delivery
from notifications.outbox import PublishError, publish
from notifications.recipients import recipient_from_spec
from notifications.sweeper import sweep
from notifications.tasks import dispatch
from tests.delivery_fixtures import wait_final
from tests.helpers import wait_until
from tests.services.celery_processes import ROOT, WorkerProcess

OWN_REDIS_DB = 11  # this module's own Redis database index: FLUSHDB touches nobody else's


def items(count):
    return [
        {
            "id": n,
            "key": f"reports/{n:07d}.csv",
            "url": f"https://bucket.example/reports/{n:07d}.csv?X-Amz-Signature={'a' * 64}",
            "expires_at": "2026-12-01T10:00:00+00:00",
            "permalink": None,
            "filename": None,
        }
        for n in range(count)
    ]


@pytest.mark.django_db
class TestPublish:
    def test_one_delivery_per_email_and_one_per_webhook_part(self, settings):
        settings.WEBHOOK_MAX_BODY_BYTES = 16384
        mail = recipient_from_spec(None, {"email": "a@example.com"}).recipient
        hook = recipient_from_spec(None, {"webhook": "https://hooks.example.com/x"}).recipient

        created = publish(
            "links.issued",
            subject="b1",
            recipients=[mail, hook],
            items=items(200),
            manifest=lambda i: "https://m",
        )

        emails = [d for d in created if d.recipient_id == mail.id]
        parts = [d for d in created if d.recipient_id == hook.id]
        assert len(emails) == 1 and len(parts) > 1
        assert all(d.status == "pending" and d.next_attempt_at for d in created)
        bodies = [Delivery.objects.get(id=d.id).payload for d in parts]
        assert all(len(b.encode()) <= 16384 for b in bodies)
        links = [link for b in bodies for link in json.loads(b)["data"]["links"]]
        assert [link["key"] for link in links] == [i["key"] for i in items(200)]

    def test_many_links_make_bounded_parts_and_few_rows(self, settings):
        hook = recipient_from_spec(None, {"webhook": "https://hooks.example.com/x"}).recipient
        many = items(200_000)

        created = publish("links.issued", subject="huge", recipients=[hook], items=many)

        assert 100 < len(created) < 400
        assert all("body" not in d._state.fields_cache for d in created)  # not held in memory
        sizes = Delivery.objects.filter(subject="huge").values_list("body__text", flat=True)
        assert max(len(p.encode()) for p in sizes.iterator()) <= settings.WEBHOOK_MAX_BODY_BYTES
        assert sum(d.link_count for d in created) == 200_000

    def test_email_over_the_link_limit_without_a_manifest_is_refused_and_writes_nothing(
        self, settings
    ):
        settings.EMAIL_LINK_LIMIT = 2
        mail = recipient_from_spec(None, {"email": "a@example.com"}).recipient
        hook = recipient_from_spec(None, {"webhook": "https://hooks.example.com/x"}).recipient

        with pytest.raises(PublishError, match="manifest"):
            publish("links.issued", subject="b", recipients=[mail, hook], items=items(3))
        assert Delivery.objects.count() == 0

    def test_bad_input_is_refused_and_writes_nothing(self):
        hook = recipient_from_spec(None, {"webhook": "https://hooks.example.com/x"}).recipient
        with pytest.raises(PublishError, match="event type"):
            publish("links.exploded", subject="b", recipients=[hook], items=[])
        with pytest.raises(PublishError, match="saved Recipient"):
            publish("links.issued", subject="b", recipients=[type(hook)(kind="email")], items=[])
        big = items(1)
        big[0]["key"] = "k" * 300_000
        with pytest.raises(PublishError, match="WEBHOOK_MAX_BODY_BYTES"):
            publish("links.issued", subject="b", recipients=[hook], items=big)
        assert Delivery.objects.count() == 0

    def test_the_manifest_is_made_once_for_all_email_recipients(self, settings):
        settings.EMAIL_LINK_LIMIT = 2
        people = [
            recipient_from_spec(None, {"email": f"p{n}@example.com"}).recipient for n in range(3)
        ]
        calls = []

        created = publish(
            "links.issued",
            subject="b",
            recipients=people,
            items=items(5),
            manifest=lambda links: calls.append(len(links)) or "https://manifest.example/m.csv",
        )

        assert calls == [5]
        data = json.loads(Delivery.objects.get(id=created[0].id).payload)["data"]
        assert data["manifest_url"] == "https://manifest.example/m.csv"
        assert data["count"] == 5 and "links" not in data


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_when_the_callers_transaction_rolls_back(celery_worker, endpoint):
    hook = endpoint()

    with pytest.raises(RuntimeError), transaction.atomic():
        publish("links.issued", subject="b", recipients=[hook.recipient], items=[])
        raise RuntimeError("the batch failed")

    assert Delivery.objects.count() == 0
    follow = publish("links.issued", subject="after", recipients=[hook.recipient], items=[])
    wait_final(follow)
    assert len(hook.receiver.requests) == 1  # only the one that committed


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_on_the_same_ids_never_send_the_same_attempt(endpoint, monkeypatch):
    monkeypatch.setattr("notifications.outbox.enqueue_lanes", lambda lanes: None)  # no worker
    hook = endpoint()
    extra = [
        recipient_from_spec(None, {"webhook": f"{hook.receiver.url}?n={n}"}).recipient
        for n in range(19)
    ]
    created = publish("links.issued", subject="b", recipients=[hook.recipient, *extra], items=[])
    ids = [d.id for d in created]

    def run():
        try:
            dispatcher.run(ids)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(hook.receiver.requests) == 20
    assert len({r.headers["webhook-id"] for r in hook.receiver.requests}) == 20
    assert Attempt.objects.filter(delivery_id__in=ids).count() == 20
    assert set(Delivery.objects.filter(id__in=ids).values_list("status", flat=True)) == {
        "delivered"
    }


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_loses_nothing(
    celery_worker, endpoint, monkeypatch, settings, test_database_url
):
    """A worker SIGKILLed while sending: once its lease runs out the sweeper takes the stuck
    delivery over, and the receiver gets it again with the same webhook-id (it can drop the
    duplicate)."""
    queue = f"kill-{uuid.uuid4().hex[:8]}"
    doomed = WorkerProcess(
        test_database_url, queue, concurrency=1, extra_env={"DELIVERY_LEASE_GRACE": "1"}
    ).start()
    hook = endpoint(script=[Reply(200, delay=10)], default=Reply(200))
    monkeypatch.setattr(
        "notifications.outbox.enqueue_lanes",
        lambda lanes: [dispatch.apply_async(args=(str(lane),), queue=queue) for lane in lanes],
    )
    try:
        [delivery] = publish("links.issued", subject="b", recipients=[hook.recipient], items=[])
        hook.receiver.wait_for(1)
    finally:
        doomed.kill()
    row = Delivery.objects.get(id=delivery.id)
    assert row.status == "sending" and row.lease_until is not None

    assert sweep().recovered == 0  # the lease (WEBHOOK_TIMEOUT + 1 s) has not run out yet
    wait_until(lambda: sweep().recovered == 1, timeout=10)

    [delivery] = wait_final([delivery])
    assert delivery.status == "delivered"
    assert [a.outcome for a in delivery.attempts.order_by("number")] == ["lost", "delivered"]
    assert {r.headers["webhook-id"] for r in hook.receiver.requests} == {delivery.message_id}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_after_a_redis_flush_the_sweeper_delivers_every_pending_delivery_once(
    celery_worker, endpoint, settings, test_database_url
):
    """Deliveries are published (by another process) onto a broker that is then flushed.

    This runs FLUSHDB on a Redis database index of this module's own (OWN_REDIS_DB), not
    FLUSHALL: other test runs and helpers share this Redis server. The effect on the lost
    tasks is the same.
    """
    broker = f"redis://127.0.0.1:6379/{OWN_REDIS_DB}"
    prefix = f"flush-{uuid.uuid4().hex[:8]}-"
    queue = f"{prefix}deliveries"
    hook = endpoint()
    recipients = [hook.recipient] + [
        recipient_from_spec(None, {"webhook": f"{hook.receiver.url}?n={n}"}).recipient
        for n in range(24)
    ]
    env = {
        **os.environ,
        "CELERY_BROKER_URL": broker,
        "CELERY_QUEUE_PREFIX": prefix,
        "TEST_DATABASE_URL": test_database_url,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    command = [sys.executable, "-m", "tests.services.publish_cli", "flushed"]
    output = subprocess.run(
        command + [str(r.id) for r in recipients],
        env=env,
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    ids = json.loads(output.stdout.decode().strip().splitlines()[-1])
    client = redis.Redis.from_url(broker)
    assert client.llen(queue) == 25  # one dispatch task per endpoint (lane), waiting
    client.flushdb()
    assert Delivery.objects.filter(id__in=ids, status="pending").count() == 25

    settings.DELIVERY_REQUEUE_AFTER = 0
    assert sweep().enqueued == 25

    rows = wait_final(ids)
    assert {r.status for r in rows} == {"delivered"}
    received = [r.headers["webhook-id"] for r in hook.receiver.requests]
    assert len(received) == 25 and len(set(received)) == 25
    assert sweep().enqueued == 0


@pytest.mark.django_db
def test_the_sweeper_leaves_recently_enqueued_and_future_deliveries_alone(settings):
    hook = recipient_from_spec(None, {"webhook": "https://hooks.example.com/x"}).recipient
    [fresh] = publish("links.issued", subject="b", recipients=[hook], items=[])
    assert sweep().enqueued == 0  # its dispatch task was just enqueued
    Delivery.objects.filter(id=fresh.id).update(
        next_attempt_at=fresh.next_attempt_at + timedelta(hours=1),
        queued_at=None,
    )
    assert sweep().enqueued == 0  # not due yet
