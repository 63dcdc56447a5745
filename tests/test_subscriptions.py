"""Event-type subscriptions: an endpoint receives only the event types it names (all by default),
set through the recipient spec (API, batches, schedules) and checked field by field."""

from __future__ import annotations

import pytest

from notifications.models import Delivery, Recipient
from notifications.outbox import publish
from notifications.recipients import RecipientError, check_event_types, recipient_from_spec

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
