"""GET /healthz: 200 when the work is being done, 503 naming each failing check.

Checks: the database, the broker and the media bucket answer; beat sends heartbeats; a worker
takes them from each queue; the oldest due link and the oldest due delivery have not waited
too long (links at risk). The result is cached for HEALTH_CACHE_SECONDS, so polling it costs
one evaluation per that many seconds, however often and by however many it is asked.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from ops import probes
from ops.verdict import judge

CACHE_KEY = "ops:healthz"


def evaluate() -> tuple[dict[str, Any], int]:
    now = timezone.now()
    verdict = judge(probes.observe(now), probes.limits())
    body = {
        "status": "ok" if verdict.healthy else "failing",
        "failing": verdict.failing,
        "checks": {name: check.as_dict() for name, check in verdict.checks.items()},
        "checked_at": now.isoformat(),
    }
    return body, 200 if verdict.healthy else 503


def cached_evaluation() -> tuple[dict[str, Any], int]:
    ttl = settings.HEALTH_CACHE_SECONDS
    if ttl <= 0:
        return evaluate()
    found: tuple[dict[str, Any], int] | None = cache.get(CACHE_KEY)
    if found is not None:
        return found
    result = evaluate()
    cache.set(CACHE_KEY, result, ttl)
    return result


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    body, status = cached_evaluation()
    return JsonResponse(body, status=status)
