"""Model fields whose values are encrypted in the database (common.encryption).

Encryption is randomised: such a field cannot be filtered on (only `isnull`), and the
database holds nothing readable without a key from FIELD_ENCRYPTION_KEYS.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from django import forms
from django.db import models

from common.encryption import decrypt, encrypt

_ST = TypeVar("_ST")  # the type a field is set to (django-stubs' names)
_GT = TypeVar("_GT")  # the type read back


class EncryptedTextField(models.TextField[_ST, _GT]):
    """Text, stored as a Fernet token."""

    description = "Text encrypted at rest"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        return None if value is None else self.load(decrypt(value))

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        return encrypt(self.dump(value))

    def get_lookup(self, lookup_name: str) -> Any:
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def load(self, text: str) -> Any:
        return text

    def dump(self, value: Any) -> str:
        return str(value)


class EncryptedJSONField(EncryptedTextField[Any, Any]):
    """A JSON value (e.g. a dict of header names to values), stored as one Fernet token."""

    description = "JSON encrypted at rest"
    # What django-stubs reads for a model attribute's type (stubs only, as for JSONField).
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def load(self, text: str) -> Any:
        return json.loads(text)

    def dump(self, value: Any) -> str:
        return json.dumps(value, sort_keys=True)

    def to_python(self, value: Any) -> Any:
        return value

    def value_to_string(self, obj: Any) -> str:
        return self.dump(self.value_from_object(obj))

    def formfield(
        self, form_class: Any = None, choices_form_class: Any = None, **kwargs: Any
    ) -> Any:
        return forms.JSONField(**{"required": not self.blank, **kwargs})
