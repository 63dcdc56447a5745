"""Webhook secrets and header values are encrypted in the database; keys rotate."""

from __future__ import annotations

import importlib

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from common.encryption import DecryptionError
from notifications.models import Recipient, WebhookSecret
from notifications.recipients import recipient_from_spec
from tests.test_settings import TEST_FERNET_KEY, run_check

HEADER_VALUE = "Bearer very-secret-header-value"


def stored(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column}::text FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def webhook(url: str = "https://hooks.example.com/a") -> tuple[Recipient, str]:
    spec = {"webhook": url, "headers": {"Authorization": HEADER_VALUE}}
    new = recipient_from_spec(None, spec)
    assert new.secret is not None
    return new.recipient, new.secret


@pytest.mark.django_db
def test_the_database_holds_neither_the_secret_nor_the_header_value():
    recipient, secret = webhook()
    row = WebhookSecret.objects.get(recipient=recipient)

    raw_secret = stored("notifications_webhooksecret", "secret", row.id)
    raw_headers = stored("notifications_recipient", "headers", recipient.id)
    assert secret not in raw_secret and secret[6:] not in raw_secret
    assert HEADER_VALUE not in raw_headers and "Authorization" not in raw_headers
    fresh = Recipient.objects.get(id=recipient.id)
    assert fresh.headers == {"Authorization": HEADER_VALUE}
    assert WebhookSecret.objects.get(id=row.id).secret == secret


@pytest.mark.django_db
def test_an_encrypted_field_cannot_be_filtered_on():
    with pytest.raises(FieldError):
        list(WebhookSecret.objects.filter(secret="whsec_x"))


@pytest.mark.django_db
def test_rotation_re_encrypts_every_row_under_the_new_key():
    recipient, secret = webhook()
    new_key = Fernet.generate_key().decode()

    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, TEST_FERNET_KEY]):
        call_command("reencrypt_secrets", stdout=open("/dev/null", "w"))  # noqa: SIM115
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):  # the old key dropped
        assert WebhookSecret.objects.get(recipient=recipient).secret == secret
        assert Recipient.objects.get(id=recipient.id).headers["Authorization"] == HEADER_VALUE
    with pytest.raises(DecryptionError, match="FIELD_ENCRYPTION_KEYS"):
        WebhookSecret.objects.get(recipient=recipient)  # only the old key: cannot read


@pytest.mark.django_db
def test_the_migration_encrypts_rows_stored_in_clear():
    recipient, secret = webhook()
    row = WebhookSecret.objects.get(recipient=recipient)
    with connection.cursor() as cursor:  # as the rows were before the migration
        cursor.execute(
            "UPDATE notifications_webhooksecret SET secret = %s WHERE id = %s", [secret, row.id]
        )
        cursor.execute(
            "UPDATE notifications_recipient SET headers = %s WHERE id = %s",
            ['{"X-Key": "clear"}', recipient.id],
        )
    migration = importlib.import_module("notifications.migrations.0004_encrypt_secrets")

    with connection.schema_editor() as editor:
        migration.encrypt_rows(apps, editor)
        migration.encrypt_rows(apps, editor)  # a second run leaves encrypted rows alone

    assert secret not in stored("notifications_webhooksecret", "secret", row.id)
    assert WebhookSecret.objects.get(id=row.id).secret == secret
    assert Recipient.objects.get(id=recipient.id).headers == {"X-Key": "clear"}


def test_production_refuses_to_start_without_a_key(tmp_path):
    result = run_check(tmp_path, DJANGO_SECRET_KEY="x")
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is not set" in result.stderr


def test_a_malformed_key_is_refused_without_being_shown(tmp_path):
    keys = f"{TEST_FERNET_KEY},not-a-real-key-123"
    result = run_check(tmp_path, DJANGO_SECRET_KEY="x", FIELD_ENCRYPTION_KEYS=keys)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS: key #2 is not a Fernet key" in result.stderr
    assert "not-a-real-key-123" not in result.stderr


def test_development_starts_without_a_key_with_a_warning(tmp_path):
    result = run_check(tmp_path, DJANGO_DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert "FIELD_ENCRYPTION_KEYS is not set" in result.stderr
