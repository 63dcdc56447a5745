"""Webhook secrets and header values encrypted at rest (FIELD_ENCRYPTION_KEYS).

The columns become text; every row in clear is encrypted in place (rows already encrypted
are left alone, so the migration can be re-run after a failure). Reversible.
"""

from typing import Any

from django.db import migrations

import common.fields

COLUMNS = (("webhooksecret", "secret"), ("recipient", "headers"))


def rows(schema_editor: Any, table: str, column: str) -> list[tuple[Any, Any]]:
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {quote(column)} FROM {quote(table)}")  # noqa: S608
        return list(cursor.fetchall())


def write(schema_editor: Any, table: str, column: str, pk: Any, value: str) -> None:
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE id = %s",  # noqa: S608
            [value, pk],
        )


def is_encrypted(value: str) -> bool:
    from common.encryption import DecryptionError, decrypt

    try:
        decrypt(value)
    except (DecryptionError, ValueError):
        return False
    return True


def encrypt_rows(apps: Any, schema_editor: Any) -> None:
    from common.encryption import encrypt

    for model, column in COLUMNS:
        table = apps.get_model("notifications", model)._meta.db_table
        for pk, value in rows(schema_editor, table, column):
            if value is not None and not is_encrypted(value):
                write(schema_editor, table, column, pk, encrypt(value))


def decrypt_rows(apps: Any, schema_editor: Any) -> None:
    from common.encryption import decrypt

    for model, column in COLUMNS:
        table = apps.get_model("notifications", model)._meta.db_table
        for pk, value in rows(schema_editor, table, column):
            if value is not None:
                write(schema_editor, table, column, pk, decrypt(value))


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0003_recipient_event_types"),
    ]

    operations = [
        migrations.AlterField(
            model_name="recipient",
            name="headers",
            field=common.fields.EncryptedJSONField(
                blank=True, default=dict, help_text="extra webhook headers (encrypted at rest)"
            ),
        ),
        migrations.AlterField(
            model_name="webhooksecret",
            name="secret",
            field=common.fields.EncryptedTextField(
                help_text="encrypted at rest (FIELD_ENCRYPTION_KEYS)"
            ),
        ),
        migrations.RunPython(encrypt_rows, decrypt_rows),
    ]
