"""One error body for the whole API, whatever the status.

    {"code": "invalid", "detail": "invalid input: expires_in", "errors": {"expires_in": ["..."]}}

- `code`: stable and machine-readable (DRF's codes: `invalid`, `parse_error`,
  `not_authenticated`, `authentication_failed`, `permission_denied`, `not_found`,
  `method_not_allowed`, `not_acceptable`, `unsupported_media_type`, `throttled`, and the
  project's own, e.g. `unfinished`, `unavailable`).
- `detail`: one sentence for people.
- `errors`: each refused field and its messages; nested fields are named as a path,
  `recipients[1].webhook`. Empty when the error is not about a field.
- `limit` (only with code `limit_exceeded`): the setting whose limit refused the request,
  e.g. `LINKS_QUOTA_BATCHES_PER_HOUR` (common.throttling.LimitExceeded).

`api_exception_handler` (REST_FRAMEWORK's EXCEPTION_HANDLER) makes every error answer this
shape, as JSON even when the request asked for another format (`?format=csv`);
`not_found` (project.urls' handler404) answers it for a path under /api/ that names no route
(a malformed id); `ErrorSerializer` documents it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

Messages = dict[str, list[str]]


# The documented shape (a field named `errors` cannot be declared on a Serializer class).
ErrorSerializer = inline_serializer(
    "Error",
    {
        "code": serializers.CharField(help_text="What went wrong, machine-readable and stable."),
        "detail": serializers.CharField(help_text="What went wrong, for people."),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text="Each refused field (nested ones as a path, `recipients[1].webhook`) and "
            "why; empty when the error is not about a field.",
        ),
        "limit": serializers.CharField(
            required=False,
            help_text="With code `limit_exceeded`: the setting whose limit refused the request.",
        ),
    },
)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django answers it (a 500, logged)
    response.data = error_body(exc, response.data)
    _answer_in_json(context.get("request"))
    return response


def _answer_in_json(request: Any) -> None:
    """An error is the JSON Error body, also for a request that asked for CSV."""
    renderer = getattr(request, "accepted_renderer", None)
    if request is not None and getattr(renderer, "format", "json") not in {"json", "api"}:
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: under /api/, the JSON Error body; elsewhere, Django's page."""
    if not request.path.startswith("/api/"):
        return defaults.page_not_found(request, exception)
    body = {
        "code": "not_found",
        "detail": "no such resource: check the path and the id",
        "errors": {},
    }
    return JsonResponse(body, status=status.HTTP_404_NOT_FOUND)


def error_body(exc: Exception, data: Any) -> dict[str, Any]:
    if isinstance(exc, ValidationError):
        errors = field_messages(data)
        return {
            "code": "invalid",
            "detail": f"invalid input: {', '.join(errors)}",
            "errors": errors,
        }
    detail = data.get("detail", "") if isinstance(data, dict) else data
    errors = getattr(exc, "field_errors", {})
    body = {"code": str(getattr(detail, "code", "error")), "detail": str(detail), "errors": errors}
    if isinstance(data, dict) and "limit" in data:
        body["limit"] = str(data["limit"])
    return body


def field_messages(detail: Any, path: str = "") -> Messages:
    """DRF's nested error details as {field path: [messages]}."""
    if isinstance(detail, dict):
        found: Messages = {}
        for name, inner in detail.items():
            found.update(field_messages(inner, _child(path, name)))
        return found
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        found = {}
        for index, inner in enumerate(detail):
            found.update(field_messages(inner, f"{path}[{index}]"))
        return found
    messages = [str(item) for item in (detail if isinstance(detail, list) else [detail])]
    return {path or api_settings.NON_FIELD_ERRORS_KEY: messages}


def _child(path: str, name: Any) -> str:
    if not path:
        return str(name)
    return f"{path}[{name}]" if isinstance(name, int) or str(name).isdigit() else f"{path}.{name}"


class FieldAPIError(APIException):
    """An error about one field of the request: its body names the field's path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field_errors = {field: [message]}


class FieldConflict(FieldAPIError):
    """409: the value is well formed but clashes with what exists (a name already taken)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class FieldNotFound(FieldAPIError):
    """404: the value is well formed but names nothing (a prefix with no objects)."""

    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"


class StateConflict(APIException):
    """409: the object is not in a state that allows this (not sent yet, not a webhook)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class FieldForbidden(FieldAPIError):
    """403: the value is well formed but not the caller's to use (keys outside their scope)."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "permission_denied"
