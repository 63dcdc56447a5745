"""Writing down what a dispatch run did: Attempt rows, delivery states, endpoint health and
its circuit breaker.

Results are flushed in small batches (the run flushes when `due()`: every FLUSH_EVERY
results or second), so the rows that record a send are written soon after it, in a few
statements rather than one per send. Every write is conditional on the run's claim token:
a run whose claim was taken over cannot overwrite the newer state. A flush returns the
retries to queue (lanes, countdown); the dispatcher queues them.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from common import metrics
from common.redact import redact
from notifications import breaker
from notifications.lanes import Lane
from notifications.models import Attempt, Delivery, Recipient
from notifications.policy import delivery_retry_delay
from notifications.transports.base import Sent, TransportError

log = logging.getLogger(__name__)
FLUSH_EVERY = 50
FLUSH_SECONDS = 1.0


@dataclass(frozen=True)
class Retry:
    """Dispatch these lanes again after `countdown` seconds."""

    lanes: list[Lane]
    countdown: float
    to_quarantine: bool = False  # every lane's endpoint has just failed: no need to look


@dataclass
class Result:
    delivery: Delivery
    started_at: datetime
    latency_ms: int
    sent: Sent | None
    error: TransportError | None

    @property
    def outcome(self) -> str:
        if self.error is None:
            return Attempt.Outcome.DELIVERED
        return Attempt.Outcome.PERMANENT if self.error.permanent else Attempt.Outcome.TRANSIENT

    def attempt_row(self) -> Attempt:
        source = self.sent or self.error
        status = source.status_code if source else None
        response = source.response if source else ""
        return Attempt(
            delivery_id=self.delivery.id,
            number=self.delivery.attempt_count,
            started_at=self.started_at,
            latency_ms=self.latency_ms,
            outcome=self.outcome,
            status_code=status,
            response=redact(response or ""),
            error=redact(self.error.message)[:500] if self.error else "",
        )


class Recorder:
    def __init__(self, token: uuid.UUID) -> None:
        self.token = token
        self.results: list[Result] = []
        self._last_flush = time.monotonic()

    def add(self, result: Result) -> None:
        self.results.append(result)

    def due(self) -> bool:
        return (
            len(self.results) >= FLUSH_EVERY or time.monotonic() - self._last_flush > FLUSH_SECONDS
        )

    def flush(self) -> list[Retry]:
        """Write down the results so far; returns the retries to queue."""
        results, self.results = self.results, []
        self._last_flush = time.monotonic()
        if not results:
            return []
        now = timezone.now()
        retries: list[tuple[Delivery, float]] = []
        failed: set[Any] = set()
        with transaction.atomic():
            Attempt.objects.bulk_create([r.attempt_row() for r in results], ignore_conflicts=True)
            self._delivered([r for r in results if r.error is None], now)
            for result in results:
                if result.error is not None:
                    delay = self._failed(result, now)
                    if delay is None:
                        failed.add(result.delivery.id)
                    elif delay <= settings.DELIVERY_COUNTDOWN_MAX:
                        retries.append((result.delivery, delay))
            quarantined = self._health(results, now)
        count(results, failed)
        lane_of = {d.id: Lane.of(d.recipient.kind, d.recipient_id) for d, _ in retries}
        return [
            retry_of({lane_of[i] for i in ids}, countdown, quarantined)
            for ids, countdown in group_retries(retries)
        ]

    def _delivered(self, results: list[Result], now: datetime) -> None:
        if not results:
            return
        Delivery.objects.filter(
            id__in=[r.delivery.id for r in results], claim_token=self.token
        ).update(
            status=Delivery.Status.DELIVERED,
            delivered_at=now,
            next_attempt_at=None,
            claim_token=None,
            lease_until=None,
            last_error="",
        )
        for result in results:
            log.info(
                "delivery %s delivered to %s #%s on attempt %d (%d ms)",
                result.delivery.id,
                result.delivery.recipient.kind,
                result.delivery.recipient_id,
                result.delivery.attempt_count,
                result.latency_ms,
            )

    def _failed(self, result: Result, now: datetime) -> float | None:
        """Schedule the next try or fail the delivery; returns the delay when retried."""
        delivery, error = result.delivery, result.error
        assert error is not None
        delay = None
        if error.first_contact:  # cut off at the first contact's deadline: not a spent try
            delay = 0.0
        elif not error.permanent:
            delay = delivery_retry_delay(
                delivery.tries,
                settings.DELIVERY_RETRY_SCHEDULE,
                jitter_percent=settings.DELIVERY_RETRY_JITTER_PERCENT,
                retry_after=error.retry_after,
                max_retry_after=settings.DELIVERY_MAX_RETRY_AFTER,
            )
        message = redact(error.message)[:500]
        fields: dict[str, Any]
        if delay is None:
            fields = {"status": Delivery.Status.FAILED, "next_attempt_at": None}
        else:
            next_at = now + timedelta(seconds=delay)
            by_countdown = delay <= settings.DELIVERY_COUNTDOWN_MAX
            fields = {
                "status": Delivery.Status.PENDING,
                "next_attempt_at": next_at,
                "queued_at": next_at if by_countdown else None,
            }
            if error.first_contact:
                fields["tries"] = F("tries") - 1
        Delivery.objects.filter(id=delivery.id, claim_token=self.token).update(
            claim_token=None, claimed_at=None, lease_until=None, last_error=message, **fields
        )
        log.warning(
            "delivery %s to %s #%s, attempt %d: %s%s",
            delivery.id,
            delivery.recipient.kind,
            delivery.recipient_id,
            delivery.attempt_count,
            message,
            "" if delay is None else f"; next try in {delay:.1f}s",
        )
        return delay

    def _health(self, results: list[Result], now: datetime) -> set[int]:
        """Endpoints: last success, failing since, disabled on 410 or after long failure.
        Returns those that failed with no success here and now count a failure in a row:
        their lanes are quarantined (queue.py)."""
        webhook = [r for r in results if r.delivery.recipient.kind == Recipient.Kind.WEBHOOK]
        failing = {r.delivery.recipient_id for r in webhook if r.error is not None}
        healthy = {r.delivery.recipient_id for r in webhook if r.error is None}
        if healthy:
            Recipient.objects.filter(id__in=healthy).update(
                last_success_at=now, failing_since=None, **breaker.CLOSED
            )
        counts = _transient_counts(webhook, healthy)
        since = breaker.record_failures(failing - healthy, counts, now)
        gone = {r.delivery.recipient_id for r in webhook if r.error and r.error.disable}
        if gone:
            disable(gone, "the endpoint answered 410 Gone", now)
        cutoff = now - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER)
        stale = {i for i, t in since.items() if i not in gone and t is not None and t <= cutoff}
        if stale:
            span = _span(settings.WEBHOOK_DISABLE_AFTER)
            disable(stale, f"failing without a success for {span}", now)
        return set(counts)


def retry_of(lanes: set[Lane], countdown: float, quarantined: set[int]) -> Retry:
    to_quarantine = all(lane.recipient_id in quarantined for lane in lanes)
    return Retry(sorted(lanes, key=str), countdown, to_quarantine)


def count(results: list[Result], failed: set[Any]) -> None:
    """Metrics: each attempt by transport, event and outcome, its latency, and the
    deliveries that ended (delivered, or failed for good)."""
    attempts: Counter[tuple[str, str, str]] = Counter()
    ended: Counter[tuple[str, str]] = Counter()
    for result in results:
        transport, event = result.delivery.recipient.kind, result.delivery.event_type
        attempts[transport, event, str(result.outcome)] += 1
        metrics.ATTEMPT_SECONDS.labels(transport).observe(result.latency_ms / 1000)
        if result.error is None:
            ended[event, "delivered"] += 1
        elif result.delivery.id in failed:
            ended[event, "failed"] += 1
    for labels, number in attempts.items():
        metrics.DELIVERY_ATTEMPTS.labels(*labels).inc(number)
    for pair, number in ended.items():
        metrics.DELIVERIES_ENDED.labels(*pair).inc(number)


def _span(seconds: int) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            value = seconds / size
            return f"{value:g} {unit if value != 1 else unit[:-1]}"
    return f"{seconds} seconds"


def _transient_counts(results: list[Result], healthy: set[int]) -> dict[int, int]:
    """Timeouts and errors per endpoint that had no success in these results."""
    counts: dict[int, int] = {}
    for result in results:
        error, rid = result.error, result.delivery.recipient_id
        if error is not None and not error.permanent and rid not in healthy:
            counts[rid] = counts.get(rid, 0) + 1
    return counts


def group_retries(retries: list[tuple[Delivery, float]]) -> list[tuple[list[Any], float]]:
    """One task per lane per second of delay rather than one per delivery; each group waits
    for its latest member, so none arrives before it is due."""
    groups: dict[int, list[tuple[Delivery, float]]] = {}
    for delivery, delay in retries:
        groups.setdefault(int(delay), []).append((delivery, delay))
    return [
        ([d.id for d, _ in members], max(delay for _, delay in members))
        for _, members in sorted(groups.items())
    ]


def disable(recipient_ids: set[int], reason: str, now: datetime | None = None) -> None:
    """Disable endpoints and fail their pending deliveries (they can be replayed later)."""
    now = now or timezone.now()
    Recipient.objects.filter(id__in=recipient_ids, disabled_at__isnull=True).update(
        disabled_at=now, disabled_reason=reason[:200]
    )
    Delivery.objects.filter(recipient_id__in=recipient_ids, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILED,
        next_attempt_at=None,
        last_error=f"recipient disabled: {reason}"[:500],
    )
    log.warning("recipients %s disabled: %s", sorted(recipient_ids), reason)
