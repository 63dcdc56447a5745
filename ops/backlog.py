"""What is waiting, read from the database with queries the partial indexes answer.

Shared by /healthz and /metrics. Each query is checked with EXPLAIN in the tests:
- the oldest due link: first row of `links_due_for_refresh` (active, refresh_at set);
- links due now (and within the shortest margin: the projected refresh backlog): a range of
  that index;
- expired links still awaiting a refresh: a range of `active_links_by_expiry`;
- the oldest due delivery and the backlog: `delivery_due_idx` (pending) and
  `delivery_claimed_idx` (sending).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet

from notifications.models import Delivery
from tasks.models import ShareLink
from tasks.refresh import meter
from tasks.refresh.margin import current_minimum

ACTIVE = ShareLink.Status.ACTIVE


def refreshing() -> QuerySet[ShareLink]:
    return ShareLink.objects.filter(status=ACTIVE, refresh_at__isnull=False)


def refresh_queue() -> QuerySet[ShareLink]:
    return refreshing().order_by("refresh_at")


def oldest_due_refresh(now: datetime) -> datetime | None:
    first = refresh_queue().values_list("refresh_at", flat=True).first()
    return first if first is not None and first <= now else None


def due_now(now: datetime) -> int:
    return refreshing().filter(refresh_at__lte=now).count()


def refresh_projected(now: datetime) -> float:
    """Seconds the refresh pools need, at their measured capacity, for the links due now or
    within the shortest margin in force (a range of `links_due_for_refresh`)."""
    horizon = now + timedelta(seconds=current_minimum())
    return due_now(horizon) / meter.capacity()


def dead_awaiting_refresh(now: datetime) -> QuerySet[ShareLink]:
    """Active links past their expiry that are still meant to be refreshed: dead links."""
    return ShareLink.objects.filter(
        status=ACTIVE, expires_at__lte=now, refresh_at__isnull=False
    ).filter(Q(refresh_until__isnull=True) | Q(refresh_until__gt=now))


def expired_awaiting_refresh(now: datetime) -> int:
    return dead_awaiting_refresh(now).count()


def delivery_queue() -> QuerySet[Delivery]:
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__isnull=False)
    return pending.order_by("next_attempt_at")


def oldest_due_delivery(now: datetime) -> datetime | None:
    first = delivery_queue().values_list("next_attempt_at", flat=True).first()
    return first if first is not None and first <= now else None


def delivery_backlog() -> dict[tuple[str, str], int]:
    """(status, event) -> deliveries not finished yet (pending or sending)."""
    rows = (
        Delivery.objects.filter(status__in=[Delivery.Status.PENDING, Delivery.Status.SENDING])
        .values_list("status", "event_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {(status, event): n for status, event, n in rows}


def links_by_status() -> dict[str, int]:
    rows = ShareLink.objects.values_list("status").annotate(n=Count("id")).order_by()
    counts = {status: 0 for status in ShareLink.Status.values}
    counts.update(dict(rows))
    return counts


def endpoint_states(now: datetime) -> dict[str, int]:
    """Webhook endpoints failing (no success since a failure), disabled, with an open breaker."""
    from notifications.models import Recipient

    webhooks = Recipient.objects.filter(kind=Recipient.Kind.WEBHOOK)
    return webhooks.aggregate(
        failing=Count("id", filter=Q(failing_since__isnull=False, disabled_at__isnull=True)),
        disabled=Count("id", filter=Q(disabled_at__isnull=False)),
        breaker_open=Count("id", filter=Q(breaker_open_until__gt=now, disabled_at__isnull=True)),
    )
