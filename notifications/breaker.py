"""The circuit breaker of a webhook endpoint: back off from one that keeps failing.

After DELIVERY_BREAKER_AFTER timeouts or errors in a row (permanent 4xx answers do not
count: the endpoint is up), the breaker opens for the next wait of DELIVERY_BREAKER_BACKOFF
(the last one repeats): no run claims the endpoint's deliveries meanwhile, so it costs no
worker time, and its pending deliveries wait (their tries unspent). When the wait is over
the retry schedule brings them due again; one probe is sent (half-open): a success closes
the breaker, a failure opens it for the next, longer wait. A success resets everything.
The state is on the Recipient (consecutive_failures, breaker_open_until, breaker_trips) for
the API and the admin.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Value
from django.db.models.functions import Coalesce

from notifications.models import Recipient

log = logging.getLogger(__name__)
CLOSED = {"consecutive_failures": 0, "breaker_open_until": None, "breaker_trips": 0}


def open_for(trips: int, backoff: Sequence[int]) -> int:
    """Seconds the breaker stays open when it opens for the (trips + 1)-th time in a row."""
    return int(backoff[min(trips, len(backoff) - 1)])


def record_failures(
    failing: set[int], counts: dict[int, int], now: datetime
) -> dict[int, datetime | None]:
    """Endpoints that failed with no success: failing since now (unless they already were),
    `counts` more failures in a row (timeouts and errors, not permanent 4xx answers); open the
    breakers that reach the threshold. Returns each endpoint's failing_since, or None when it
    is disabled. One UPDATE per endpoint and one SELECT (a breaker that opens: one more)."""
    if not failing:
        return {}
    for recipient_id in failing:
        Recipient.objects.filter(id=recipient_id).update(
            consecutive_failures=F("consecutive_failures") + counts.get(recipient_id, 0),
            failing_since=Coalesce("failing_since", Value(now)),
        )
    states = Recipient.objects.filter(id__in=list(failing)).values_list(
        "id",
        "consecutive_failures",
        "breaker_open_until",
        "breaker_trips",
        "failing_since",
        "disabled_at",
    )
    since: dict[int, datetime | None] = {}
    for recipient_id, failures, open_until, trips, failing_since, disabled_at in states:
        since[recipient_id] = None if disabled_at else failing_since
        if counts.get(recipient_id) and reached(failures, open_until, now):
            open_breaker(recipient_id, failures, trips, now)
    return since


def reached(failures: int, open_until: datetime | None, now: datetime) -> bool:
    """Enough failures in a row, and the breaker not open now."""
    closed = open_until is None or open_until <= now
    return closed and failures >= settings.DELIVERY_BREAKER_AFTER


def open_breaker(recipient_id: int, failures: int, trips: int, now: datetime) -> None:
    until = now + timedelta(seconds=open_for(trips, settings.DELIVERY_BREAKER_BACKOFF))
    Recipient.objects.filter(id=recipient_id).update(
        breaker_open_until=until, breaker_trips=trips + 1
    )
    log.warning(
        "webhook endpoint #%s: %d failures in a row, breaker open until %s",
        recipient_id,
        failures,
        until.isoformat(),
    )
