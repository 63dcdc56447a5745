"""The `test` event: sent on request (API, admin) through the real outbox, worker and transport,
signed, recorded as a delivery with its attempts, whatever the endpoint subscribes to."""

from __future__ import annotations

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from notifications.models import Delivery, Recipient
from notifications.outbox import PublishError, publish_test
from notifications.recipients import recipient_from_spec
from tests.auth import api_client_for
from tests.delivery_fixtures import wait_final

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_the_admin_action_sends_a_signed_test_event_recorded_with_its_attempt(
    admin_client, celery_worker, endpoint
):
    hook = endpoint(event_types=["links.revoked"])  # a test ignores the subscription

    response = admin_client.post(
        "/admin/notifications/recipient/",
        {"action": "send_test_event", "_selected_action": [hook.recipient.id]},
        follow=True,
    )

    [delivery] = wait_final(Delivery.objects.filter(recipient=hook.recipient))
    shown = [str(message) for message in response.context["messages"]]
    assert shown == [f"{hook.recipient}: test event queued as delivery {delivery.message_id}."]
    assert (delivery.status, delivery.event_type, delivery.attempt_count) == (
        "delivered",
        "test",
        1,
    )
    [attempt] = delivery.attempts.all()
    assert (attempt.outcome, attempt.status_code) == ("delivered", 200)
    [body] = hook.verified()
    assert body["type"] == "test" and body["data"]["recipient"] == hook.recipient.id
    assert hook.receiver.requests[0].headers["webhook-id"] == delivery.message_id


def test_a_disabled_or_email_recipient_takes_no_test_event(admin_client, endpoint):
    hook = endpoint()
    hook.recipient.disabled_at, hook.recipient.disabled_reason = hook.recipient.created_at, "410"
    hook.recipient.save()
    mailbox = recipient_from_spec(None, {"email": "ops@example.com"}).recipient

    with pytest.raises(PublishError, match="disabled"):
        publish_test(hook.recipient)
    with pytest.raises(PublishError, match="webhook endpoint"):
        publish_test(mailbox)
    response = admin_client.post(
        "/admin/notifications/recipient/",
        {"action": "send_test_event", "_selected_action": [hook.recipient.id, mailbox.id]},
        follow=True,
    )

    assert not Delivery.objects.exists()
    assert len(list(response.context["messages"])) == 2


def test_the_admin_sets_a_subscription(admin_client, endpoint):
    hook = endpoint()
    page = f"/admin/notifications/recipient/{hook.recipient.id}/change/"

    response = admin_client.post(
        page,
        {
            "timezone": "UTC",
            "event_types": ["links.refreshed", "links.issued"],
            "secrets-TOTAL_FORMS": "1",
            "secrets-INITIAL_FORMS": "1",
            "secrets-MIN_NUM_FORMS": "0",
            "secrets-MAX_NUM_FORMS": "1000",
            "secrets-0-id": hook.recipient.secrets.get().id,
            "secrets-0-recipient": hook.recipient.id,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    hook.recipient.refresh_from_db()
    assert hook.recipient.event_types == ["links.issued", "links.refreshed"]
    assert hook.secret not in admin_client.get(page).content.decode()


def test_the_api_sends_a_test_event_and_shows_its_attempts(
    django_user_model, celery_worker, receiver
):
    alice = api_client_for(django_user_model.objects.create_user("alice"))
    hook = receiver()
    created = alice.post(
        "/api/recipients/", {"webhook": hook.url, "event_types": ["links.lapsed"]}, format="json"
    ).json()

    response = alice.post(f"/api/recipients/{created['id']}/send-test/")

    assert response.status_code == 202, response.content
    assert (response.json()["event_type"], response.json()["status"]) == ("test", "pending")
    [delivery] = wait_final([response.json()["id"]])
    detail = alice.get(f"/api/deliveries/{delivery.id}/").json()
    assert detail["status"] == "delivered"
    assert [(a["number"], a["outcome"], a["status_code"]) for a in detail["attempts"]] == [
        (1, "delivered", 200)
    ]
    [request] = hook.requests
    body = Webhook(created["secret"]).verify(request.body, request.headers)
    assert body["type"] == "test" and body["data"]["recipient"] == created["id"]
    assert request.headers["webhook-id"] == detail["webhook_id"]


def test_the_api_refuses_a_test_event_it_cannot_send(django_user_model):
    alice = api_client_for(django_user_model.objects.create_user("alice"))
    bob = api_client_for(django_user_model.objects.create_user("bob"))
    mailbox = alice.post("/api/recipients/", {"email": "a@example.com"}, format="json").json()
    hook = alice.post(
        "/api/recipients/", {"webhook": "https://hooks.example.com/t"}, format="json"
    ).json()
    Recipient.objects.filter(id=hook["id"]).update(
        disabled_at=timezone.now(), disabled_reason="the endpoint answered 410 Gone"
    )

    email = alice.post(f"/api/recipients/{mailbox['id']}/send-test/")
    disabled = alice.post(f"/api/recipients/{hook['id']}/send-test/")
    foreign = bob.post(f"/api/recipients/{hook['id']}/send-test/")

    assert (email.status_code, email.json()["code"]) == (409, "conflict")  # not a webhook
    assert disabled.status_code == 409
    assert disabled.json()["code"] == "conflict" and "enable it first" in disabled.json()["detail"]
    assert foreign.status_code == 404
    assert not Delivery.objects.exists()


def test_the_openapi_document_describes_send_test(django_user_model):
    alice = api_client_for(django_user_model.objects.create_user("alice"))
    document = alice.get("/api/schema/", {"format": "json"}).json()

    operation = document["paths"]["/api/recipients/{id}/send-test/"]["post"]

    assert {"202", "404", "409"} <= set(operation["responses"])
    assert "test" in operation["summary"]
