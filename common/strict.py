"""Request bodies that refuse what they do not know.

A field the caller misspells must not be dropped in silence: `StrictSerializer` answers 400
naming each unknown field, and the OpenAPI document says so (`additionalProperties: false`,
set by `common.apischema.ApiSchema`). A serializer may add JSON Schema rules that fields
cannot express (e.g. "keys or prefix") in `request_schema_rules`.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from rest_framework import serializers

_IN = TypeVar("_IN")  # the instance it updates: a model, or the dict of a create


class StrictSerializer(serializers.Serializer[_IN]):
    request_schema_rules: ClassVar[dict[str, Any]] = {}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = self.initial_data if isinstance(self.initial_data, dict) else {}
        unknown = sorted(set(given) - set(self.fields))
        if unknown:
            expected = ", ".join(self.fields)
            raise serializers.ValidationError(
                {name: [f"unknown field; expected one of: {expected}"] for name in unknown}
            )
        return attrs
