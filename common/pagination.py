"""Pages of results, described in the OpenAPI document (REST_FRAMEWORK's default pagination)."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import CursorPagination, PageNumberPagination

MEANINGS = {
    "count": "How many results there are in all.",
    "next": "The next page's address; null on the last page.",
    "previous": "The previous page's address; null on the first page.",
    "results": "This page's results.",
}


def described(schema: dict[str, Any]) -> dict[str, Any]:
    for name, prop in schema.get("properties", {}).items():
        prop.setdefault("description", MEANINGS.get(name, ""))
    return schema


class Pages(PageNumberPagination):
    """`?page=N` (from 1); a page that does not exist is a 404."""

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return described(super().get_paginated_response_schema(schema))


class Cursor(CursorPagination):
    """Opaque `cursor`s in `next`/`previous`; a cursor that does not decode is a 404."""

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return described(super().get_paginated_response_schema(schema))
