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
from django.db.models import F, Q

from notifications.models import Recipient

log = logging.getLogger(__name__)
CLOSED = {"consecutive_failures": 0, "breaker_open_until": None, "breaker_trips": 0}


def open_for(trips: int, backoff: Sequence[int]) -> int:
    """Seconds the breaker stays open when it opens for the (trips + 1)-th time in a row."""
    return int(backoff[min(trips, len(backoff) - 1)])


def record_failures(counts: dict[int, int], now: datetime) -> list[int]:
    """Add failures in a row per endpoint; open the breakers that reach the threshold.

    Returns the ids of the endpoints whose breaker opened now.
    """
    if not counts:
        return []
    for recipient_id, count in counts.items():
        Recipient.objects.filter(id=recipient_id).update(
            consecutive_failures=F("consecutive_failures") + count
        )
    threshold, backoff = settings.DELIVERY_BREAKER_AFTER, settings.DELIVERY_BREAKER_BACKOFF
    reached = Recipient.objects.filter(
        Q(breaker_open_until__isnull=True) | Q(breaker_open_until__lte=now),
        id__in=list(counts),
        consecutive_failures__gte=threshold,
    ).values_list("id", "breaker_trips", "consecutive_failures")
    opened = []
    for recipient_id, trips, failures in reached:
        until = now + timedelta(seconds=open_for(trips, backoff))
        Recipient.objects.filter(id=recipient_id).update(
            breaker_open_until=until, breaker_trips=trips + 1
        )
        opened.append(recipient_id)
        log.warning(
            "webhook endpoint #%s: %d failures in a row, breaker open until %s",
            recipient_id,
            failures,
            until.isoformat(),
        )
    return opened
