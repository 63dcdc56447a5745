"""With the broker down, creating a batch (or a revocation, or a delivery) still answers with
what was stored, and the sweeper queues it once the broker is back; a real worker then finishes
it. Both apps mark what the broker did not take the same way: queued at LEFT_TO_SWEEPER."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from celery import current_app
from django.conf import settings
from django.utils import timezone

from common.broker import LEFT_TO_SWEEPER
from notifications import sweeper as delivery_sweeper
from notifications.models import Delivery
from notifications.outbox import publish
from tasks.batches import sweeper
from tasks.models import Batch, BatchChunk
from tests.auth import api_client_for
from tests.batches import unique_prefix, wait_for_batch
from tests.delivery_fixtures import wait_final
from tests.helpers import wait_until
from tests.services.ports import free_port

pytestmark = [pytest.mark.s3, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@contextmanager
def broker_refusing() -> Iterator[None]:
    """Point this process's Celery app at a port where nothing listens."""
    app = current_app
    saved = app.conf.get("broker_write_url")
    app.conf.broker_write_url = f"redis://127.0.0.1:{free_port()}/0"  # messages are sent there
    reset_pools(app)
    try:
        yield
    finally:
        app.conf.broker_write_url = saved
        reset_pools(app)


def reset_pools(app) -> None:
    app._pool = None
    app.amqp._producer_pool = None


def sweep() -> sweeper.Resumed:
    """What beat's resume-stalled-batches task does."""
    return sweeper.resume_stalled(timezone.now(), timedelta(seconds=settings.LINKS_REQUEUE_AFTER))


def test_a_batch_made_with_the_broker_down_is_stored_then_signed_when_it_is_back(
    celery_worker, put_object, django_user_model
):
    api = api_client_for(django_user_model.objects.create_user("owner"))
    prefix = unique_prefix("down")
    keys = [put_object(f"{prefix}{n}.txt", b"d") for n in range(3)]
    listed = put_object(f"{prefix}listed/a.txt", b"p")

    with broker_refusing():
        by_keys = api.post("/api/batches/", {"keys": keys, "expires_in": 600}, format="json")
        by_prefix = api.post(
            "/api/batches/", {"prefix": f"{prefix}listed/", "expires_in": 600}, format="json"
        )

    assert by_keys.status_code == by_prefix.status_code == 201, by_keys.content
    assert (by_keys.json()["status"], by_keys.json()["total"]) == ("signing", 3)
    assert by_prefix.json()["status"] == "pending"
    chunk = BatchChunk.objects.get(batch_id=by_keys.json()["id"])
    assert chunk.status == "pending"
    assert chunk.enqueued_at == LEFT_TO_SWEEPER

    resumed = sweep()  # the broker is back

    assert resumed.chunks >= 1 and resumed.expansions >= 1
    chunk.refresh_from_db()
    assert chunk.enqueued_at > timezone.now() - timedelta(minutes=1)  # queued by this sweep
    assert wait_for_batch(by_keys.json()["id"]).status == "done"
    done = wait_for_batch(by_prefix.json()["id"])
    assert (done.status, done.signed) == ("done", 1)
    assert done.links.get().key == listed
    assert Batch.objects.count() == 2


def test_a_batch_revocation_asked_with_the_broker_down_is_done_when_it_is_back(
    celery_worker, put_object, django_user_model
):
    owner = django_user_model.objects.create_user("owner")
    api = api_client_for(owner)
    key = put_object(f"{unique_prefix('down-revoke')}a.txt", b"r")
    made = api.post("/api/batches/", {"keys": [key], "expires_in": 600}, format="json")
    batch = wait_for_batch(made.json()["id"])

    with broker_refusing():
        asked = api.post(f"/api/batches/{batch.id}/revoke/")

    assert asked.status_code == 202 and asked.json()["status"] == "pending"
    assert sweep().revocations >= 1
    done = wait_until(
        lambda: (r := api.get(asked["Location"]).json())["status"] == "done" and r, timeout=60
    )
    assert done["revoked"] == 1
    assert batch.links.get().status == "revoked"


def test_a_delivery_published_with_the_broker_down_is_sent_when_it_is_back(celery_worker, endpoint):
    hook = endpoint()
    with broker_refusing():
        [delivery] = publish("links.issued", subject="down", recipients=[hook.recipient], items=[])

    row = Delivery.objects.get(id=delivery.id)
    assert (row.status, row.queued_at) == ("pending", LEFT_TO_SWEEPER)
    assert delivery_sweeper.sweep().enqueued == 1  # the broker is back
    [sent] = wait_final([delivery])
    assert sent.status == "delivered" and len(hook.receiver.requests) == 1
