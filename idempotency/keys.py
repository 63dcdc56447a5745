"""Idempotency-Key on the API's POST endpoints: a client's retry gets the first answer again.

    return idempotent(request, "batches", lambda: make_the_batch(request))

- No header: the handler runs as usual.
- A new key (per user and endpoint): the handler runs in one transaction with the key's row;
  a 2xx answer is stored with the key, anything else (an error, nothing written) is not, so
  the client can correct the request and try the same key again.
- The same key and the same body within IDEMPOTENCY_KEY_TTL: the stored answer, with
  `Idempotent-Replayed: true`. Generated secrets are not stored, so not replayed either.
- The same key with another body: 422 naming the header. The same key while the first request
  is still running: the retry waits for it (then gets its answer), at most IDEMPOTENCY_WAIT,
  else 409 with Retry-After.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from common.apierrors import ErrorSerializer
from common.dbops import atomic_with_lock_timeout
from idempotency.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
WAIT_SECONDS = 5  # a retry waits this long for the first request to finish
PURGE_BATCH = 100


class StillRunning(ValidationError):  # the one error body: `errors` names the header
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_use"

    def __init__(self) -> None:
        super().__init__(
            {HEADER: [f"a request with this {HEADER} is still being processed; retry shortly"]}
        )
        self.wait = WAIT_SECONDS


class KeyReused(ValidationError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            {
                HEADER: [
                    f"this {HEADER} was used with a different request body: use a new key "
                    "for a new request"
                ]
            }
        )


class _Unstored(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def check_key(raw: str) -> str:
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or not all(" " < char <= "~" for char in raw):
        raise ValidationError(
            {HEADER: [f"1 to {MAX_KEY_LENGTH} visible ASCII characters, e.g. a UUID"]}
        )
    return raw


def fingerprint(data: Any) -> str:
    """A digest of the request body that does not depend on key order or form encoding."""
    if hasattr(data, "lists"):  # a QueryDict (form posts)
        data = {name: values for name, values in data.lists()}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def without_secrets(body: Any) -> Any:
    """The body with every "secret" member removed (shown once, stored nowhere)."""
    if isinstance(body, dict):
        return {name: without_secrets(value) for name, value in body.items() if name != "secret"}
    if isinstance(body, list):
        return [without_secrets(value) for value in body]
    return body


def idempotent(request: Request, scope: str, handler: Callable[[], Response]) -> Response:
    raw = request.headers.get(HEADER)
    if raw is None:
        return handler()
    key = check_key(raw)
    digest = fingerprint(request.data)
    try:
        with transaction.atomic():
            existing = claim(request.user.pk, scope, key, digest)
            if existing is not None:
                return replay(existing, digest)
            response = handler()
            if not 200 <= response.status_code < 300:
                raise _Unstored(response)
            store(request.user.pk, scope, key, response)
            return response
    except _Unstored as unstored:
        return unstored.response


def claim(owner_id: Any, scope: str, key: str, digest: str) -> IdempotencyKey | None:
    """Inside the transaction: take the key (None), or the stored answer of an earlier use."""
    now = timezone.now()
    mine = IdempotencyKey.objects.filter(owner_id=owner_id, scope=scope, key=key)
    purge(owner_id, now)
    try:
        with atomic_with_lock_timeout(WAIT_SECONDS):
            IdempotencyKey.objects.create(
                owner_id=owner_id,
                scope=scope,
                key=key,
                fingerprint=digest,
                status_code=0,
                body={},
                expires_at=now + timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL),
            )
    except IntegrityError:
        return mine.get()  # committed by the first request: its answer
    except OperationalError:
        raise StillRunning() from None  # the first request holds it past the wait
    return None


def purge(owner_id: Any, now: Any) -> None:
    """Forget some of this owner's expired keys (bounded work per request)."""
    expired = IdempotencyKey.objects.filter(owner_id=owner_id, expires_at__lte=now)
    ids = list(expired.values_list("id", flat=True)[:PURGE_BATCH])
    if ids:
        IdempotencyKey.objects.filter(id__in=ids).delete()


def store(owner_id: Any, scope: str, key: str, response: Response) -> None:
    IdempotencyKey.objects.filter(owner_id=owner_id, scope=scope, key=key).update(
        status_code=response.status_code, body=without_secrets(response.data)
    )


def replay(stored: IdempotencyKey, digest: str) -> Response:
    if stored.fingerprint != digest:
        raise KeyReused()
    return Response(stored.body, status=stored.status_code, headers={"Idempotent-Replayed": "true"})


PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    pattern=rf"^[!-~]{{1,{MAX_KEY_LENGTH}}}$",  # what check_key takes
    description=(
        "Any unique string (a UUID): a retry with the same key and body gets the first answer "
        "again (`Idempotent-Replayed: true`) instead of creating a second object; kept for "
        "IDEMPOTENCY_KEY_TTL. Generated secrets are not replayed."
    ),
)


RESPONSES = {
    409: OpenApiResponse(
        ErrorSerializer,
        description=f"A request with this {HEADER} is still being processed (Retry-After).",
    ),
    422: OpenApiResponse(
        ErrorSerializer, description=f"This {HEADER} was used with another request body."
    ),
}
