"""The OpenAPI document's conventions, in one place (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS).

Every operation documents the error answers it can give, each with the one error body
(`common.apierrors.ErrorSerializer`):

- 400 when it reads a body (or validated query parameters: `validates_query`);
- 401 and 403 when it needs a token (no token or a bad one; a token without the grant);
- 404 when its path names an object (or it pages with a cursor: a bad cursor is a 404);
- 415 when it reads a body (a body that is not JSON);
- 429 when the view is throttled;
- and what a view declares itself with `error_responses(409, 503)` in `extend_schema`.

The summary of an operation is the first line of its docstring, the description the rest.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework.pagination import CursorPagination

from common.apierrors import ErrorSerializer

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
        if reads_body or getattr(self.view, "validates_query", False):
            codes.append(400)
        if self.get_auth():
            codes += [401, 403]
        if "{" in self.path or isinstance(self._get_paginator(), CursorPagination):
            codes.append(404)
        if reads_body:
            codes.append(415)
        if self.view.get_throttles():
            codes.append(429)
        return codes

    def get_summary(self) -> str | None:
        return self._docstring()[0] or super().get_summary()

    def get_description(self) -> str:  # type: ignore[override]
        return self._docstring()[1]

    def _docstring(self) -> tuple[str, str]:
        doc = super().get_description() or ""
        first, _, rest = doc.strip().partition("\n")
        return first.strip(), rest.strip()
