"""The OpenAPI document's conventions, in one place (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS).

Every operation documents the error answers it can give, each with the one error body
(`common.apierrors.ErrorSerializer`):

- 400 when it reads a body, or for the actions in the view's `validates_query`;
- 401 and 403 when it needs a token (no token or a bad one; a token without the grant);
- 404 when its path names an object, or it pages (a page or cursor that does not exist);
- 415 when it reads a body (a body that is not JSON);
- 429 when the view is throttled;
- and what a view declares itself with `error_responses(409, 503)` in `extend_schema`.

A serializer's `field_help` ({field: description}) describes the fields its model does not.

Request bodies of a `common.strict.StrictSerializer` refuse unknown fields
(`additionalProperties: false`) and carry its `request_schema_rules`.

The summary of an operation is the first line of its docstring, the description the rest.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer

from common.apierrors import ErrorSerializer
from common.strict import StrictSerializer

ERROR_MEANINGS = {
    400: "Refused input: `errors` names each field and why. Nothing was written.",
    401: "No valid API token: send `Authorization: Token <token>`.",
    403: "The token is valid but may not do this.",
    404: "No such object among the caller's own (another user's objects are 404 too).",
    405: "The method is not allowed here.",
    409: "The object is not in a state that allows this yet.",
    413: "The body is too large.",
    415: "The body is not JSON.",
    429: "Too many requests: try again after `Retry-After` seconds.",
    503: "A service this needs (the bucket, the broker) does not answer: try again later.",
}
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def error_response(code: int) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=ERROR_MEANINGS[code])


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Extra error answers for `extend_schema(responses={...})`, e.g. 409 and 503."""
    return {code: error_response(code) for code in codes}


class ApiSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code in self.error_codes():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    error_response(code), str(code), direction=direction
                )
        return dict(sorted(responses.items()))

    def error_codes(self) -> list[int]:
        codes = []
        reads_body = self.method in BODY_METHODS and self.get_request_serializer() is not None
        if reads_body or getattr(self.view, "action", None) in self.validates_query():
            codes.append(400)
        if self.get_auth():
            codes += [401, 403]
        if "{" in self.path or (self._is_list_view() and self._get_paginator() is not None):
            codes.append(404)
        if reads_body:
            codes.append(415)
        if self.view.get_throttles():
            codes.append(429)
        return codes

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        described = getattr(serializer, "field_help", {})
        for name, prop in schema.get("properties", {}).items():
            if name in described and "description" not in prop:
                prop["description"] = described[name]
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
            schema.update(serializer.request_schema_rules)
        return schema

    def validates_query(self) -> tuple[str, ...]:
        """The view's actions that answer 400 for bad query parameters."""
        return tuple(getattr(self.view, "validates_query", ()))

    def _get_request_for_media_type(self, serializer: Any, direction: Any = "request") -> Any:
        schema, required = super()._get_request_for_media_type(serializer, direction)
        one_of = isinstance(serializer, PolymorphicProxySerializer) or "oneOf" in getattr(
            serializer, "request_schema_rules", {}
        )
        return schema, required or one_of  # "one of these fields": an empty body is refused

    def get_summary(self) -> str | None:
        return self._docstring()[0] or super().get_summary()

    def get_description(self) -> str:  # type: ignore[override]
        first, rest = self._docstring()
        return rest or first  # a one-line docstring is both

    def _docstring(self) -> tuple[str, str]:
        doc = super().get_description() or ""
        first, _, rest = doc.strip().partition("\n")
        return first.strip(), rest.strip()
