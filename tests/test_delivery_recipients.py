"""Recipients from specs (API body, CLI --to): validation, reuse, secrets shown once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from notifications.models import Recipient, WebhookSecret
from notifications.recipients import RecipientError, parse_cli_spec, recipient_from_spec
from notifications.webhook_secrets import active_secrets, generate_secret, rotate_secret

pytestmark = pytest.mark.django_db
URL = "https://hooks.example.com/in"


def refused(spec, field, owner=None):
    with pytest.raises(RecipientError) as caught:
        recipient_from_spec(owner, spec)
    assert caught.value.field == field, str(caught.value)
    return str(caught.value)


def test_an_email_recipient():
    new = recipient_from_spec(None, {"email": " ana@example.com ", "timezone": "Europe/Paris"})
    assert (new.recipient.kind, new.recipient.email, new.secret) == (
        "email",
        "ana@example.com",
        None,
    )
    assert new.recipient.timezone == "Europe/Paris"


def test_a_webhook_gets_a_generated_secret_shown_once():
    new = recipient_from_spec(None, {"webhook": URL})
    assert new.secret and new.secret.startswith("whsec_")
    assert active_secrets(new.recipient) == [new.secret]

    again = recipient_from_spec(None, parse_cli_spec(f"webhook:{URL}"))
    assert again.recipient.pk == new.recipient.pk  # the endpoint keeps its secret
    assert again.secret is None


def test_a_given_secret_is_kept_and_not_echoed():
    secret = generate_secret()
    new = recipient_from_spec(None, {"webhook": URL, "secret": secret, "headers": {"X-Key": "1"}})
    assert new.secret is None
    assert active_secrets(new.recipient) == [secret]
    assert new.recipient.headers == {"X-Key": "1"}


def test_a_different_secret_for_a_known_endpoint_is_refused_and_changes_nothing():
    first = recipient_from_spec(None, {"webhook": URL})
    message = refused(
        {"webhook": URL, "secret": generate_secret(), "headers": {"A": "b"}}, "secret"
    )
    assert "rotate" in message
    first.recipient.refresh_from_db()
    assert first.recipient.headers == {}
    assert active_secrets(first.recipient) == [first.secret]


def test_each_owner_has_their_own_recipient():
    ana = User.objects.create_user("ana")
    bo = User.objects.create_user("bo")
    a = recipient_from_spec(ana, {"webhook": URL})
    b = recipient_from_spec(bo, {"webhook": URL})
    assert a.recipient.pk != b.recipient.pk and a.secret != b.secret
    assert a.recipient.owner == ana


@pytest.mark.parametrize(
    ("spec", "field"), [({"webhook": URL}, "webhook"), ({"email": "a@b.co"}, "email")]
)
def test_naming_a_disabled_recipient_again_is_refused_and_it_stays_disabled(spec, field):
    new = recipient_from_spec(None, spec)
    Recipient.objects.filter(pk=new.recipient.pk).update(
        disabled_at=timezone.now(), disabled_reason="410 Gone"
    )

    with pytest.raises(RecipientError) as refused:
        recipient_from_spec(None, {**spec, "timezone": "Europe/Paris"})

    assert refused.value.field == field
    assert "disabled" in str(refused.value) and "410 Gone" in str(refused.value)
    assert f"/api/recipients/{new.recipient.pk}/enable/" in str(refused.value)
    new.recipient.refresh_from_db()
    assert new.recipient.disabled_at is not None and new.recipient.timezone == "UTC"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": 42}, "email"),
        ({"webhook": "ftp://hooks.example.com/x"}, "webhook"),
        ({"webhook": "https://user:pw@hooks.example.com/x"}, "webhook"),
        ({"webhook": "https:///nohost"}, "webhook"),
        ({"webhook": "https://hooks.example.com/" + "a" * 2100}, "webhook"),
        ({"webhook": URL, "secret": "whsec_short"}, "secret"),
        ({"webhook": URL, "secret": "plain-text"}, "secret"),
        ({"webhook": URL, "headers": {"webhook-signature": "x"}}, "headers"),
        ({"webhook": URL, "headers": {"X-A": "one\r\nInjected: yes"}}, "headers"),
        ({"webhook": URL, "headers": {"bad name": "x"}}, "headers"),
        ({"webhook": URL, "headers": ["X-A"]}, "headers"),
        ({"email": "a@example.com", "timezone": "Mars/Olympus"}, "timezone"),
        ({"email": "a@example.com", "webhook": URL}, "recipient"),
        ({"sms": "+33"}, "recipient"),
        ({"email": "a@example.com", "secret": generate_secret()}, "secret"),
        ("email:a@example.com", "recipient"),
    ],
)
def test_bad_specs_are_refused_with_the_field_and_write_nothing(spec, field):
    refused(spec, field)
    assert Recipient.objects.count() == 0 and WebhookSecret.objects.count() == 0


def test_errors_never_echo_a_secret():
    secret = "whsec_" + "A" * 10
    message = refused({"webhook": URL, "secret": secret}, "secret")
    assert "AAAAAAAAAA" not in message


def test_rotation_keeps_the_old_secret_for_the_grace_period(settings):
    settings.WEBHOOK_SECRET_GRACE = 3600
    new = recipient_from_spec(None, {"webhook": URL})
    fresh = rotate_secret(new.recipient)

    assert active_secrets(new.recipient) == [new.secret, fresh]
    later = timezone.now() + timedelta(seconds=3601)
    assert active_secrets(new.recipient, later) == [fresh]


def test_secrets_are_masked_in_their_text_form():
    new = recipient_from_spec(None, {"webhook": URL})
    row = WebhookSecret.objects.get()
    assert new.secret not in str(row) and new.secret not in repr(row)
    assert str(row).startswith("whsec_…")
