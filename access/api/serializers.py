"""What GET /api/me/ shows: the caller, their key grants, and the token in use."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class TokenInfoSerializer(serializers.Serializer[dict[str, Any]]):
    hint = serializers.CharField(help_text="The token's first characters.")
    name = serializers.CharField(help_text="The name given to the token.")
    prefixes = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        help_text="Prefixes this token is narrowed to; empty: the user's grants.",
    )
    created_at = serializers.DateTimeField(help_text="When the token was made.")
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When it stops working; null: never."
    )


class MeSerializer(serializers.Serializer[dict[str, Any]]):
    username = serializers.CharField(help_text="Your user name.")
    grants = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        help_text="Key prefixes you may share ('' = the whole bucket but the reserved prefix).",
    )
    reserved = serializers.ListField(
        child=serializers.CharField(), help_text="Prefixes nobody may share."
    )
    token = TokenInfoSerializer(allow_null=True, help_text="The token of this request, if any.")
    scope = serializers.CharField(help_text="The keys this request may share, in words.")
