"""API request rates per user, and the error every refused limit answers with.

Two throttles run on every API view (REST_FRAMEWORK's DEFAULT_THROTTLE_CLASSES): one for
all of a user's requests (API_THROTTLE_RATE), one for those that write (POST, PUT, PATCH,
DELETE: API_THROTTLE_WRITE_RATE). Rates are read from the settings on each request, in the
project's one rate format ('120/1m', or 'off'), and counted like the per-address limits
(common.ratelimit: a fixed window in the cache, CACHE_URL). When the cache does not answer,
requests are let through and a warning is logged: a throttle must not take the API down.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from common.ratelimit import Rate, hit

log = logging.getLogger(__name__)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LimitExceeded(APIException):
    """A refusal that names its limit: code `limit_exceeded`, `limit` the setting's name.

    429 with Retry-After (DRF's handler sends `wait` as that header) unless another status
    is given (a quota that waiting does not lift).
    """

    status_code: int = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "limit_exceeded"

    def __init__(
        self, limit: str, message: str, *, wait: float | None = None, status_code: int = 429
    ) -> None:
        super().__init__({"detail": message, "limit": limit})
        self.status_code = status_code
        self.wait = None if wait is None else max(1, math.ceil(wait))


class UserThrottle(BaseThrottle):
    """Every request of an authenticated user; anonymous requests are refused before this."""

    scope = "api-user"
    setting = "API_THROTTLE_RATE"
    what = "requests"

    def applies(self, request: Request) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def allow_request(self, request: Request, view: Any) -> bool:
        rate = getattr(settings, self.setting)
        if rate is None or not self.applies(request):
            return True
        try:
            wait = hit(self.scope, f"user-{request.user.pk}", Rate(*rate), time.time())
        except Exception as error:  # the cache is down: let the request through
            log.warning("throttle %s not applied: the cache failed: %s", self.scope, error)
            return True
        if wait is None:
            return True
        count, period = rate
        raise LimitExceeded(
            self.setting,
            f"over {count} {self.what} per {period} s for one user ({self.setting}); "
            f"try again in {wait} s",
            wait=wait,
        )


class UserWriteThrottle(UserThrottle):
    """Requests that create or change something (POST, PUT, PATCH, DELETE)."""

    scope = "api-user-write"
    setting = "API_THROTTLE_WRITE_RATE"
    what = "writes"

    def applies(self, request: Request) -> bool:
        return super().applies(request) and request.method not in SAFE_METHODS
