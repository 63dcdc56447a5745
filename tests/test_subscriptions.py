"""Event-type subscriptions: an endpoint receives only the event types it names (all by default),
set through the recipient spec (API, batches, schedules) and checked field by field."""

from __future__ import annotations

import pytest

from notifications.models import Delivery, Recipient
from notifications.outbox import publish
from notifications.recipients import RecipientError, check_event_types, recipient_from_spec
from tests.auth import api_client_for

ITEM = {
    "id": 1,
    "key": "k",
    "url": "https://x/k",
    "expires_at": "2026-12-01T10:00:00Z",
    "permalink": None,
    "filename": None,
}


def hook(path: str, **spec):
    return recipient_from_spec(None, {"webhook": f"https://hooks.example.com/{path}", **spec})


@pytest.mark.django_db
def test_the_outbox_makes_no_delivery_for_an_event_the_endpoint_does_not_want():
    revocations_only = hook("r", event_types=["links.revoked"]).recipient
    everything = hook("all").recipient
    mailbox = recipient_from_spec(
        None, {"email": "ops@example.com", "event_types": ["links.issued"]}
    ).recipient

    issued = publish(
        "links.issued",
        subject="b",
        recipients=[revocations_only, everything, mailbox],
        items=[ITEM],
    )
    revoked = publish(
        "links.revoked",
        subject="b",
        recipients=[revocations_only, everything, mailbox],
        items=[ITEM],
    )

    assert {d.recipient_id for d in issued} == {everything.id, mailbox.id}
    assert {d.recipient_id for d in revoked} == {revocations_only.id, everything.id}
    assert (
        Delivery.objects.filter(recipient=revocations_only, event_type="links.issued").count() == 0
    )


@pytest.mark.django_db
def test_naming_the_endpoint_again_changes_or_resets_its_subscription():
    first = hook("x", event_types=["links.refreshed", "links.issued"]).recipient
    assert first.event_types == ["links.issued", "links.refreshed"]  # in catalog order

    hook("x")  # not given: left as it is
    first.refresh_from_db()
    assert first.event_types == ["links.issued", "links.refreshed"]

    hook("x", event_types=None)  # null: every event type again
    first.refresh_from_db()
    assert first.event_types == [] and first.wants("links.lapsed")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "non-empty list"),
        ("links.issued", "non-empty list"),
        ([1], "non-empty list"),
        (["links.issued", "links.exploded"], "unknown event type 'links.exploded'"),
        (["test"], "unknown event type 'test'"),
    ],
)
def test_a_bad_subscription_is_refused_naming_the_field(value, message):
    with pytest.raises(RecipientError, match=message) as caught:
        check_event_types(value)
    assert caught.value.field == "event_types"


@pytest.mark.django_db
def test_a_bad_subscription_in_a_spec_writes_nothing():
    with pytest.raises(RecipientError):
        hook("bad", event_types=["nope"])
    assert not Delivery.objects.exists()
    assert not Recipient.objects.filter(url__endswith="/bad").exists()


# --- over HTTP ----------------------------------------------------------------------------


@pytest.fixture
def alice(django_user_model):
    return api_client_for(django_user_model.objects.create_user("alice"))


@pytest.fixture
def bob(django_user_model):
    return api_client_for(django_user_model.objects.create_user("bob"))


@pytest.mark.django_db
def test_the_api_creates_shows_and_changes_a_subscription(alice):
    created = alice.post(
        "/api/recipients/",
        {"webhook": "https://hooks.example.com/sub", "event_types": ["links.revoked"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["event_types"] == ["links.revoked"]
    url = f"/api/recipients/{created.json()['id']}/"

    changed = alice.patch(url, {"event_types": ["links.lapsed", "links.issued"]}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["event_types"] == ["links.issued", "links.lapsed"]
    everything = alice.patch(url, {"event_types": None}, format="json")
    assert everything.json()["event_types"] is None
    assert alice.get(url).json()["event_types"] is None
    assert Recipient.objects.get().event_types == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_types": ["links.exploded"]}, "event_types[0]"),
        ({"event_types": []}, "event_types"),
        ({"event_types": "links.issued"}, "event_types"),
        ({"event_types": None, "url": "https://elsewhere.example"}, "url"),
    ],
)
def test_a_bad_change_is_a_400_naming_the_field_and_changes_nothing(alice, body, field):
    recipient = alice.post(
        "/api/recipients/",
        {"webhook": "https://hooks.example.com/x", "event_types": ["links.issued"]},
        format="json",
    ).json()

    response = alice.patch(f"/api/recipients/{recipient['id']}/", body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert Recipient.objects.get().event_types == ["links.issued"]


@pytest.mark.django_db
def test_another_users_endpoint_cannot_be_changed(alice, bob):
    recipient = alice.post(
        "/api/recipients/", {"webhook": "https://hooks.example.com/x"}, format="json"
    ).json()

    response = bob.patch(
        f"/api/recipients/{recipient['id']}/", {"event_types": ["links.issued"]}, format="json"
    )

    assert response.status_code == 404
    assert Recipient.objects.get().event_types == []


@pytest.mark.django_db
def test_a_batch_recipient_can_subscribe_and_a_bad_one_names_its_place(alice):
    good = alice.post(
        "/api/batches/",
        {
            "keys": ["x/1"],
            "recipients": [
                {"webhook": "https://hooks.example.com/b", "event_types": ["links.lapsed"]}
            ],
        },
        format="json",
    )
    bad = alice.post(
        "/api/batches/",
        {"keys": ["x/1"], "recipients": [{"email": "a@example.com", "event_types": ["nope"]}]},
        format="json",
    )

    assert good.status_code == 201, good.content
    assert Recipient.objects.get().event_types == ["links.lapsed"]
    assert bad.status_code == 400
    assert "recipients[0].event_types[0]" in bad.json()["errors"]
