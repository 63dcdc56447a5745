"""Admin: key grants (who may share which prefixes) and API tokens (revoke, narrow, expire)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from access.models import ApiToken, KeyGrant


@admin.register(KeyGrant)
class KeyGrantAdmin(admin.ModelAdmin[KeyGrant]):
    list_display = ["user", "shown_prefix", "note", "created_at"]
    list_filter = ["user"]
    search_fields = ["user__username", "prefix", "note"]
    autocomplete_fields = ["user"]

    @admin.display(description="prefix", ordering="prefix")
    def shown_prefix(self, grant: KeyGrant) -> str:
        return grant.prefix or "(whole bucket)"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    """Tokens are made by `manage.py api_token` (shown once there); deleting one revokes it."""

    list_display = ["hint", "user", "name", "prefixes", "created_at", "expires_at"]
    list_filter = ["user"]
    search_fields = ["user__username", "name", "hint"]
    fields = ["user", "hint", "name", "prefixes", "created_at", "expires_at"]
    readonly_fields = ["user", "hint", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
