"""Strict API input: a body field the endpoint does not know is a 400 naming it."""

from __future__ import annotations

from rest_framework import serializers


def refuse_unknown_fields(serializer: serializers.Serializer) -> None:
    """ValidationError naming each field of the body that the serializer does not declare."""
    unknown = sorted(set(serializer.initial_data) - set(serializer.fields))
    if unknown:
        expected = ", ".join(serializer.fields)
        raise serializers.ValidationError(
            {name: [f"unknown field; expected one of: {expected}"] for name in unknown}
        )
