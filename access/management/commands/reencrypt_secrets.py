"""`manage.py reencrypt_secrets`: every encrypted value re-encrypted under the first key.

Rotation: put a new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), run
this, then drop the old keys. Values are rotated as stored (never decrypted into Python
objects); a value no key opens is reported by table and row id, and the command fails.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F, Model, TextField, Value
from django.db.models.functions import Cast

from common.encryption import DecryptionError, reencrypt
from common.fields import EncryptedTextField

CHUNK = 500


def encrypted_fields() -> list[tuple[type[Model], str]]:
    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


class Command(BaseCommand):
    help = "Re-encrypt webhook secrets and header values under the first FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        failed: list[str] = []
        for model, name in encrypted_fields():
            done = self.rotate(model, name, failed)
            self.stdout.write(f"{model._meta.db_table}.{name}: {done} values re-encrypted")
        if failed:
            raise CommandError(
                f"{len(failed)} values could not be decrypted with any key "
                f"(FIELD_ENCRYPTION_KEYS): {', '.join(failed[:20])}"
            )

    @staticmethod
    def rotate(model: type[Model], name: str, failed: list[str]) -> int:
        stored = model._default_manager.annotate(raw=Cast(F(name), TextField()))
        rows = stored.filter(**{f"{name}__isnull": False}).values_list("pk", "raw")
        done = 0
        for start in range(0, rows.count(), CHUNK):
            with transaction.atomic():
                for pk, raw in rows.order_by("pk")[start : start + CHUNK]:
                    try:
                        fresh = reencrypt(raw)
                    except DecryptionError:
                        failed.append(f"{model._meta.db_table} id {pk}")
                        continue
                    new = Value(fresh, output_field=TextField())
                    model._default_manager.filter(pk=pk).update(**{name: new})
                    done += 1
        return done
