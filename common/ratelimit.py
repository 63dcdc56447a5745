"""Per-address rate limits for unauthenticated views, counted in Django's cache.

A fixed window per (scope, address): the first request of a window adds a counter that
expires with it, later ones increment it; over the limit, the view answers 429 with
Retry-After (the seconds left in the window). IPv6 clients are counted per /64, the block
one host usually holds. Behind reverse proxies, the client address is read from
X-Forwarded-For only when the request comes from a proxy named in TRUSTED_PROXIES
(common.clientaddr); by default REMOTE_ADDR is the client.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Collection
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from common import clientaddr

log = logging.getLogger(__name__)
View = Callable[..., HttpResponse]


class Rate(NamedTuple):
    requests: int  # allowed per window
    period: int  # window length in seconds


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the one the nearest trusted proxy saw."""
    return clientaddr.client_address(request.META, trusted_proxies())


def trusted_proxies() -> tuple[clientaddr.Network, ...]:
    return clientaddr.networks_of(tuple(settings.TRUSTED_PROXIES))


def address_bucket(address: str) -> str:
    """What one client is counted as: its IPv4 address, or its IPv6 /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"  # never a key from text the client wrote
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def hit(scope: str, client: str, rate: Rate, now: float) -> int | None:
    """Count one request; None when it is within the limit, else the seconds to wait."""
    window = int(now // rate.period)
    key = f"ratelimit:{scope}:{client}:{window}"
    timeout = rate.period + 1
    if cache.add(key, 1, timeout=timeout):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: a new window
            cache.add(key, 1, timeout=timeout)
            count = 1
    if count <= rate.requests:
        return None
    if count == rate.requests + 1:
        log.warning("rate limit %s reached by %s (%d per %d s)", scope, client, *rate)
    return max(1, math.ceil((window + 1) * rate.period - now))


def too_many(retry_after: int) -> HttpResponse:
    response = HttpResponse(
        f"Too many requests: try again in {retry_after} s.\n",
        status=429,
        content_type="text/plain",
    )
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


def rate_limited(
    scope: str, setting: str, methods: Collection[str] | None = None
) -> Callable[[View], View]:
    """Limit a view per client address to the Rate in `setting` (None: no limit).

    `methods` limits only those methods (e.g. the POST of a login form).
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            rate = getattr(settings, setting)
            if rate is not None and (methods is None or request.method in methods):
                address = client_address(request)
                wait = hit(scope, address_bucket(address), Rate(*rate), time.time())
                if wait is not None:
                    return too_many(wait)
            return view(request, *args, **kwargs)

        return limited

    return decorate
