"""GET /api/: what the API holds, as links to each resource and to the documentation."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

RESOURCES = {
    "batches": ("batch-list", "Link batches: create, follow, export, revoke."),
    "schedules": ("schedule-list", "Batches made on a calendar, and their runs."),
    "recipients": ("recipient-list", "Email addresses and webhook endpoints links go to."),
    "deliveries": ("delivery-list", "Each event sent to each recipient, with its attempts."),
    "schema": ("schema", "This API's OpenAPI 3.1 document."),
    "docs": ("api-docs", "This API's documentation (Swagger UI)."),
}

ApiRoot = inline_serializer(
    "ApiRoot",
    {
        name: serializers.URLField(
            help_text=meaning, default=f"https://links.example.com/api/{name}/"
        )
        for name, (_, meaning) in RESOURCES.items()
    },
)


@extend_schema(
    responses={200: ApiRoot},
    summary="List the API's resources",
    description="The address of each resource, of this document and of its documentation.",
)
@api_view(["GET"])
def api_root(request: Request) -> Response:
    urls = {name: reverse(route, request=request) for name, (route, _) in RESOURCES.items()}
    return Response(urls)


api_root.cls.key_scoped = True  # type: ignore[attr-defined]  # lists addresses only
