"""Tokens of Django REST framework's authtoken (stored in clear) become hashed API tokens.

Each existing token keeps working (its digest is stored; clients change nothing), then
the clear copy is deleted. Databases that never had the authtoken table skip this.
"""

import hashlib
from typing import Any

from django.db import migrations

TABLE = "authtoken_token"


def hash_tokens(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    if TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("access", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {TABLE}")  # noqa: S608
        found = cursor.fetchall()
    for key, user_id, created in found:
        ApiToken.objects.get_or_create(
            digest=hashlib.sha256(key.encode("utf-8")).hexdigest(),
            defaults={
                "user_id": user_id,
                "hint": key[:8],
                "name": "migrated from authtoken",
                "created_at": created,
            },
        )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")  # noqa: S608


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(hash_tokens, migrations.RunPython.noop),
    ]
