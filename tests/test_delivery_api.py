"""The deliveries API and admin: state, attempts, replay, rotation, endpoints disabled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from demo.receiver import Reply
from notifications import dispatcher
from notifications.models import Delivery, Recipient
from notifications.outbox import publish
from notifications.recipients import recipient_from_spec
from tests.delivery_fixtures import wait_final

SIGNED = (
    "https://b.example/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=" + "ab12cd" + "e" * 58
)


@pytest.fixture
def ana(db):
    return User.objects.create_user("ana")


@pytest.fixture
def api(ana):
    client = APIClient()
    client.force_authenticate(ana)
    return client


def link(url=SIGNED):
    return {
        "id": 1,
        "key": "k",
        "url": url,
        "expires_at": "2026-12-01T00:00:00Z",
        "permalink": None,
        "filename": None,
    }


@pytest.mark.django_db
def test_creating_a_webhook_recipient_shows_its_secret_once(api):
    created = api.post(
        "/api/recipients/", {"webhook": "https://hooks.example.com/a"}, format="json"
    )

    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    listed = api.get("/api/recipients/").content.decode()
    assert secret not in listed and secret[6:] not in listed
    [row] = api.get("/api/recipients/").json()["results"]
    assert row["secrets"][0]["masked"] == "whsec_…" + secret[-4:]
    assert row["disabled_at"] is None


@pytest.mark.django_db
def test_a_bad_recipient_is_a_400_naming_the_field(api):
    response = api.post("/api/recipients/", {"webhook": "ftp://x.example"}, format="json")
    assert response.status_code == 400 and "webhook" in response.json()["errors"]
    assert Recipient.objects.count() == 0


@pytest.mark.django_db
def test_rotating_a_secret_returns_the_new_one_and_both_stay_listed(api, ana):
    new = recipient_from_spec(ana, {"webhook": "https://hooks.example.com/a"})

    response = api.post(f"/api/recipients/{new.recipient.id}/rotate-secret/", {}, format="json")

    assert response.status_code == 200
    fresh = response.json()["secret"]
    assert fresh.startswith("whsec_") and fresh != new.secret
    secrets = api.get(f"/api/recipients/{new.recipient.id}/").json()["secrets"]
    assert len(secrets) == 2 and secrets[0]["expires_at"] is not None


@pytest.mark.django_db
def test_other_users_recipients_and_deliveries_are_invisible(api):
    bo = User.objects.create_user("bo")
    theirs = recipient_from_spec(bo, {"webhook": "https://hooks.example.com/b"}).recipient
    [delivery] = publish("links.issued", subject="b", recipients=[theirs], items=[])

    assert api.get(f"/api/recipients/{theirs.id}/").status_code == 404
    assert api.get(f"/api/deliveries/{delivery.id}/").status_code == 404
    assert api.post(f"/api/deliveries/{delivery.id}/replay/").status_code == 404
    assert api.get("/api/deliveries/").json()["results"] == []
    assert APIClient().get("/api/deliveries/").status_code in (401, 403)


@pytest.mark.django_db
def test_a_delivery_shows_its_attempts_without_link_signatures(api, ana, receiver, settings):
    hook = receiver(default=Reply(500, body=f"echo {SIGNED}".encode()))
    recipient = recipient_from_spec(ana, {"webhook": hook.url}).recipient
    settings.DELIVERY_COUNTDOWN_MAX = 0  # leave the retry to the sweeper: nothing else runs
    settings.DELIVERY_RETRY_SCHEDULE = [3600]  # one attempt, then a long wait
    [delivery] = publish("links.issued", subject="b-9", recipients=[recipient], items=[link()])
    dispatcher.run([delivery.id])

    body = api.get(f"/api/deliveries/{delivery.id}/").json()

    assert body["status"] == "pending" and body["webhook_id"] == delivery.message_id
    [attempt] = body["attempts"]
    assert attempt["status_code"] == 500 and attempt["outcome"] == "transient"
    assert "X-Amz-Signature=ab12cd…" in attempt["response"]
    assert "e" * 20 not in str(body)
    listed = api.get("/api/deliveries/", {"subject": "b-9", "status": "pending"}).json()
    assert [d["id"] for d in listed["results"]] == [str(delivery.id)]
    assert api.get("/api/deliveries/", {"recipient": "x"}).status_code == 400


@pytest.mark.django_db
def test_an_endpoint_failing_too_long_is_disabled_and_shows_it(api, ana, receiver, settings):
    settings.WEBHOOK_DISABLE_AFTER = 86400
    settings.DELIVERY_COUNTDOWN_MAX = 0
    hook = receiver(default=Reply(503))
    recipient = recipient_from_spec(ana, {"webhook": hook.url}).recipient
    Recipient.objects.filter(id=recipient.id).update(
        failing_since=timezone.now() - timedelta(days=2)
    )
    [first, second] = [
        publish("links.issued", subject=s, recipients=[recipient], items=[])[0] for s in "ab"
    ]

    dispatcher.run([first.id])

    row = api.get(f"/api/recipients/{recipient.id}/").json()
    assert row["disabled_at"] is not None
    assert "without a success for 1 day" in row["disabled_reason"]
    second.refresh_from_db()
    assert second.status == "failed" and "disabled" in second.last_error
    assert api.post(f"/api/deliveries/{second.id}/replay/").status_code == 409

    enabled = api.post(f"/api/recipients/{recipient.id}/enable/").json()
    assert enabled["disabled_at"] is None
    assert api.post(f"/api/deliveries/{second.id}/replay/").status_code == 202


@pytest.mark.django_db
def test_a_batch_naming_a_disabled_endpoint_is_refused_until_it_is_enabled(api, ana):
    from tasks.models import Batch
    from tests.auth import grant

    grant(ana, "")  # the whole bucket: this test is about the recipient
    url = "https://hooks.example.com/gone"
    recipient = recipient_from_spec(ana, {"webhook": url}).recipient
    Recipient.objects.filter(id=recipient.id).update(
        disabled_at=timezone.now(), disabled_reason="410 Gone"
    )
    body = {"keys": ["a.txt"], "recipients": [{"email": "x@example.com"}, {"webhook": url}]}

    refused = api.post("/api/batches/", body, format="json")

    assert refused.status_code == 400, refused.content
    [message] = refused.json()["errors"]["recipients[1].webhook"]
    assert url in message and "disabled" in message and "410 Gone" in message
    assert Batch.objects.count() == 0
    assert not Recipient.objects.filter(email="x@example.com").exists()  # nothing half-written
    recipient.refresh_from_db()
    assert recipient.disabled_at is not None

    assert api.post(f"/api/recipients/{recipient.id}/enable/").status_code == 200
    accepted = api.post("/api/batches/", body, format="json")
    assert accepted.status_code in (201, 202), accepted.content
    assert Batch.objects.get().recipients.filter(id=recipient.id).exists()


@pytest.mark.django_db
def test_a_success_clears_failing_since(ana, receiver, settings):
    hook = receiver()
    recipient = recipient_from_spec(ana, {"webhook": hook.url}).recipient
    Recipient.objects.filter(id=recipient.id).update(failing_since=timezone.now())
    [delivery] = publish("links.issued", subject="b", recipients=[recipient], items=[])

    dispatcher.run([delivery.id])

    recipient.refresh_from_db()
    assert recipient.failing_since is None and recipient.last_success_at is not None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_replay_sends_again_with_the_same_webhook_id(celery_worker, endpoint, ana):
    hook = endpoint()
    Recipient.objects.filter(id=hook.recipient.id).update(owner=ana)
    [delivery] = wait_final(
        publish("links.issued", subject="b", recipients=[hook.recipient], items=[])
    )
    client = APIClient()
    client.force_authenticate(ana)

    response = client.post(f"/api/deliveries/{delivery.id}/replay/")

    assert response.status_code == 202
    hook.receiver.wait_for(2)
    [delivery] = wait_final([delivery])
    first, second = hook.receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.message_id
    assert first.body == second.body
    assert Webhook(hook.secret).verify(second.body, second.headers)
    assert [a.number for a in delivery.attempts.order_by("number")] == [1, 2]


@pytest.mark.django_db
def test_admin_pages_mask_secrets_and_shorten_signatures(admin_client, ana):
    new = recipient_from_spec(
        ana,
        {"webhook": "https://hooks.example.com/a", "headers": {"Authorization": "Bearer s3cr3t"}},
    )
    [delivery] = publish("links.issued", subject="b", recipients=[new.recipient], items=[link()])

    pages = [
        admin_client.get("/admin/notifications/recipient/"),
        admin_client.get(f"/admin/notifications/recipient/{new.recipient.id}/change/"),
        admin_client.get("/admin/notifications/delivery/"),
        admin_client.get(f"/admin/notifications/delivery/{delivery.id}/change/"),
    ]

    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert new.secret[6:] not in html and "s3cr3t" not in html
        assert "e" * 20 not in html
    assert "X-Amz-Signature=ab12cd…" in pages[3].content.decode()


@pytest.mark.django_db
def test_admin_replay_action(admin_client, ana):
    recipient = recipient_from_spec(ana, {"email": "ana@example.com"}).recipient
    [delivery] = publish("links.issued", subject="b", recipients=[recipient], items=[])
    Delivery.objects.filter(id=delivery.id).update(status="failed", tries=9)

    response = admin_client.post(
        "/admin/notifications/delivery/",
        {"action": "replay_deliveries", "_selected_action": [str(delivery.id)]},
        follow=True,
    )

    assert response.status_code == 200
    delivery.refresh_from_db()
    assert (delivery.status, delivery.tries) == ("pending", 0)
