"""Which failures are worth another try, and when (pure)."""

from __future__ import annotations

import random

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError
from django.db import InterfaceError, OperationalError

from common.redact import redact

THROTTLE_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestLimitExceeded"}
)


class PermanentError(Exception):
    """A failure that another try will not mend (bad configuration, refused access)."""


def is_transient(error: BaseException) -> bool:
    """Connection trouble, timeouts, throttling, 5xx, database locks and lost connections."""
    if isinstance(error, OperationalError | InterfaceError | ConnectionError | HTTPClientError):
        return True
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in THROTTLE_CODES or int(status) >= 500
    return False


def backoff_delay(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential back-off with jitter: about 2 s, 4 s, 8 s … at most `cap`."""
    ceiling = min(cap, base * 2.0**attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


def describe(error: BaseException) -> str:
    """A one-line reason for a person, with no signature or secret in it."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    name = type(error).__name__
    return redact(f"{name}: {text}" if text else name)[:500]
