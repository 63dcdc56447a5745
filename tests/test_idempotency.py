"""Idempotency-Key on the POST endpoints: a retry gets the first answer, not a second object."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from idempotency import keys
from idempotency.models import IdempotencyKey
from notifications.models import Recipient
from schedules.models import Schedule
from tasks.models import Batch
from tests.auth import api_client_for

pytestmark = pytest.mark.django_db
BODY = {
    "keys": ["k/1", "k/2"],
    "expires_in": 600,
    "recipients": [{"webhook": "http://127.0.0.1:9/h"}],
}


@pytest.fixture
def alice_user(django_user_model):
    return django_user_model.objects.create_user("alice")


@pytest.fixture
def alice(alice_user):
    return api_client_for(alice_user)


def post(client, path, body, key):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retry_with_the_same_key_gets_the_same_batch(alice):
    first = post(alice, "/api/batches/", BODY, "order-42")
    again = post(alice, "/api/batches/", BODY, "order-42")

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert Batch.objects.count() == 1 and Recipient.objects.count() == 1
    assert "secret" in first.json()["recipients"][0]  # shown once
    assert "secret" not in again.json()["recipients"][0]  # stored nowhere, so not replayed
    stored = IdempotencyKey.objects.get()
    assert "whsec_" not in str(stored.body)


def test_the_same_key_with_another_body_is_a_422_naming_the_header(alice):
    assert post(alice, "/api/batches/", BODY, "k-1").status_code == 201

    reused = post(alice, "/api/batches/", {**BODY, "expires_in": 601}, "k-1")

    assert reused.status_code == 422
    assert "different request body" in reused.json()["errors"]["Idempotency-Key"][0]
    assert Batch.objects.count() == 1


def test_keys_are_per_user_and_per_endpoint(alice, django_user_model):
    bob = api_client_for(django_user_model.objects.create_user("bob"))
    a = post(alice, "/api/batches/", BODY, "same")
    b = post(bob, "/api/batches/", BODY, "same")
    recipient = post(alice, "/api/recipients/", {"email": "ops@example.com"}, "same")

    assert a.json()["id"] != b.json()["id"]
    assert recipient.status_code == 201 and recipient.json()["kind"] == "email"
    assert Batch.objects.count() == 2


def test_a_refused_request_is_not_remembered(alice):
    refused = post(alice, "/api/batches/", {**BODY, "expires_in": 0}, "fix-and-retry")
    assert refused.status_code == 400
    assert IdempotencyKey.objects.count() == 0

    fixed = post(alice, "/api/batches/", BODY, "fix-and-retry")
    assert fixed.status_code == 201


@override_settings(IDEMPOTENCY_KEY_TTL=3600)
def test_a_key_is_forgotten_after_its_ttl(alice):
    first = post(alice, "/api/batches/", BODY, "hourly")
    with time_machine.travel(timezone.now() + timedelta(seconds=3601)):
        later = post(alice, "/api/batches/", BODY, "hourly")
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
    assert IdempotencyKey.objects.count() == 1  # the expired one was purged


def test_schedules_and_recipients_replay_too(alice):
    schedule = {
        "name": "weekly",
        "cron": "0 8 * * 1",
        "prefix": "reports/",
        "selection": "newest",
        "expires_in": 600,
    }
    made = [post(alice, "/api/schedules/", schedule, "s-1") for _ in range(2)]
    assert [r.status_code for r in made] == [201, 201]
    assert made[0].json()["id"] == made[1].json()["id"]
    assert Schedule.objects.count() == 1
    hooks = [post(alice, "/api/recipients/", {"webhook": "http://127.0.0.1:9/x"}, "r-1")]
    hooks.append(post(alice, "/api/recipients/", {"webhook": "http://127.0.0.1:9/x"}, "r-1"))
    assert hooks[0].json()["id"] == hooks[1].json()["id"]
    assert "secret" in hooks[0].json() and "secret" not in hooks[1].json()


@pytest.mark.parametrize("bad", ["", "x" * 256, "caf\u00e9", "two words\n"])
def test_a_malformed_key_is_a_400_naming_the_header(alice, bad):
    response = alice.post("/api/batches/", BODY, format="json", HTTP_IDEMPOTENCY_KEY=bad)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert Batch.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_retry_while_the_first_request_runs_waits_then_is_a_409(alice, alice_user, monkeypatch):
    """The first request holds its key (its transaction is open): the retry waits at most
    IDEMPOTENCY_WAIT, then answers 409 with Retry-After; nothing is created twice."""
    monkeypatch.setattr(keys, "WAIT_SECONDS", 1)
    holding, release = threading.Event(), threading.Event()
    user_id = alice_user.pk

    def first_request() -> None:
        try:
            with transaction.atomic():
                keys.claim(user_id, "batches", "slow", keys.fingerprint(BODY))
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=first_request)
    thread.start()
    try:
        assert holding.wait(30)
        retry = post(alice, "/api/batches/", BODY, "slow")
    finally:
        release.set()
        thread.join(30)

    assert retry.status_code == 409
    assert retry["Retry-After"] == "1"
    assert "still being processed" in retry.json()["errors"]["Idempotency-Key"][0]
    assert Batch.objects.count() == 0


def test_the_schema_documents_the_header_and_its_answers(alice):
    paths = alice.get("/api/schema/", {"format": "json"}).json()["paths"]
    for path in ("/api/batches/", "/api/schedules/", "/api/recipients/"):
        operation = paths[path]["post"]
        assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
        assert {"409", "422"} <= set(operation["responses"])
