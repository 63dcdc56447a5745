"""Lanes: who may send what, so that no endpoint's backlog or slowness holds up another's.

A lane is the deliveries of one webhook endpoint, or all email deliveries (they share the
SMTP relay). A dispatch run works one lane: it claims a round of that lane's due deliveries,
sends them one after another over one kept-alive connection, records, and claims again
until none is due. At most DELIVERY_ENDPOINT_LANES runs hold claims on one endpoint at once
(DELIVERY_EMAIL_LANES for email): a run that finds the lane full leaves, and the runs
already in it take its deliveries on their next round. Claims are made under a
transaction-scoped advisory lock on the lane, so counting the runs in it and claiming are
one step; no network I/O happens under it.

A claim is a lease: `lease_until` = the database's now + the send's deadline + LEASE_SAFETY +
DELIVERY_LEASE_GRACE. A run
starts a send only while its lease outlives that send's hard deadline, and renews it by
claiming again each round; a lease that runs out belongs to a lost worker (the sweeper's
recovery takes it over). Two runs can therefore never be sending the same delivery.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Now
from django.utils import timezone

from notifications.models import Delivery, Recipient
from notifications.recovery import LEASE_SAFETY as LEASE_SAFETY  # the dispatcher reads it here

LANE_LOCK_CLASS = 0x6C616E  # the advisory-lock class of lanes ("lan")
CLOCK_TOLERANCE = timedelta(seconds=1)  # a countdown task may arrive a hair early
EMAIL = "email"
WEBHOOK = "webhook"
ORDER = ("next_attempt_at", "created_at", "part")  # the order a lane's deliveries are sent in


@dataclass(frozen=True)
class Lane:
    kind: str
    recipient_id: int | None = None

    def __str__(self) -> str:
        return EMAIL if self.kind == EMAIL else f"{WEBHOOK}:{self.recipient_id}"

    @classmethod
    def parse(cls, text: str) -> Lane:
        if text == EMAIL:
            return cls(EMAIL)
        kind, _, number = text.partition(":")
        if kind != WEBHOOK or not number.isdigit():
            raise ValueError(f"not a lane: {text!r}")
        return cls(WEBHOOK, int(number))

    @classmethod
    def of(cls, kind: str, recipient_id: int) -> Lane:
        return cls(EMAIL) if kind == Recipient.Kind.EMAIL else cls(WEBHOOK, recipient_id)

    def deliveries(self) -> QuerySet[Delivery]:
        if self.kind == EMAIL:
            return Delivery.objects.filter(recipient__kind=Recipient.Kind.EMAIL)
        assert self.recipient_id is not None
        return Delivery.objects.filter(recipient_id=self.recipient_id)

    @property
    def lock_key(self) -> int:
        return 0 if self.recipient_id is None else 1 + self.recipient_id % 2_000_000_000

    def width(self, recipient: Recipient | None) -> int:
        """Runs allowed in the lane at once: one for an endpoint not yet proven healthy (new,
        or failing), so a slow one never holds more than one slot."""
        if self.kind == EMAIL:
            return int(settings.DELIVERY_EMAIL_LANES)
        if recipient is None or recipient.consecutive_failures or not recipient.last_success_at:
            return 1
        return int(settings.DELIVERY_ENDPOINT_LANES)

    @property
    def timeout(self) -> float:
        """The hard deadline of one send in this lane."""
        return float(settings.EMAIL_TIMEOUT if self.kind == EMAIL else settings.WEBHOOK_TIMEOUT)

    @property
    def lease(self) -> float:
        """How long a claim holds: one send's deadline, the safety kept after it, and the
        grace that covers claiming and recording around it."""
        return self.timeout + LEASE_SAFETY + float(settings.DELIVERY_LEASE_GRACE)


def lanes_of(delivery_ids: Iterable[Any]) -> list[Lane]:
    rows = (
        Delivery.objects.filter(id__in=list(delivery_ids))
        .values_list("recipient__kind", "recipient_id")
        .distinct()
    )
    return sorted({Lane.of(kind, rid) for kind, rid in rows}, key=str)


def _lock(lane: Lane) -> None:
    if connection.vendor != "postgresql":  # SQLite (the demo): one writer at a time anyway
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LANE_LOCK_CLASS, lane.lock_key])


@dataclass
class Round:
    deliveries: list[Delivery]
    probe: bool = False  # the breaker is half-open: this one send decides


def claim(
    lane: Lane,
    token: uuid.UUID,
    limit: int,
    tolerance: timedelta = CLOCK_TOLERANCE,
    exclude: Iterable[Any] = (),
    likely_due: bool = False,
) -> Round:
    """Inside the lane's lock: the due deliveries this run may send now (none when the lane
    is full, the endpoint disabled or its breaker open).

    With nothing due, the answer needs no lock: a run that holds no claims is not counted by
    others, so a delivery that becomes due later is taken by the run its message starts.
    That check is skipped when more is `likely_due` (the run's last round was full).
    """
    now = timezone.now()
    due = due_in(lane, now + tolerance)
    if exclude := list(exclude):  # already tried by this run: their retry is queued anew
        due = due.exclude(id__in=exclude)
    if not likely_due and not due.exists():
        return Round([])
    with transaction.atomic():
        _lock(lane)
        probe, recipient = False, None
        if lane.kind == WEBHOOK:
            assert lane.recipient_id is not None
            recipient = Recipient.objects.get(id=lane.recipient_id)
            if recipient.is_disabled:
                return Round([])
            if recipient.breaker_open_until is not None:
                if recipient.breaker_open_until > now:
                    postpone(lane, recipient.breaker_open_until)
                    return Round([])
                probe = True
        if _runs_in(lane, token) >= (1 if probe else lane.width(recipient)):
            return Round([])
        first = list(due.order_by(*ORDER).values_list("id", flat=True)[: 1 if probe else limit])
        if not first:
            return Round([])
        Delivery.objects.filter(id__in=first, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.SENDING,
            claimed_at=now,
            claim_token=token,
            lease_until=Now() + Value(timedelta(seconds=lane.lease)),
            attempt_count=F("attempt_count") + 1,
            tries=F("tries") + 1,
        )
    claimed = Delivery.objects.filter(
        id__in=first, claim_token=token, status=Delivery.Status.SENDING
    )
    rows = list(claimed.select_related("body").order_by(*ORDER))
    return Round(with_recipients(rows, recipient), probe)


def due_in(lane: Lane, at: datetime) -> QuerySet[Delivery]:
    """The lane's deliveries due by `at`."""
    return lane.deliveries().filter(status=Delivery.Status.PENDING, next_attempt_at__lte=at)


def with_recipients(rows: list[Delivery], known: Recipient | None = None) -> list[Delivery]:
    """Each delivery with its recipient, every recipient loaded (and its headers decrypted)
    once rather than once per row."""
    ids = {row.recipient_id for row in rows}
    if known is not None and ids <= {known.pk}:
        recipients = {known.pk: known}
    else:
        recipients = Recipient.objects.in_bulk(list(ids))
    for row in rows:
        row.recipient = recipients[row.recipient_id]
    return rows


def _runs_in(lane: Lane, token: uuid.UUID) -> int:
    """Other runs holding live claims in the lane."""
    live = lane.deliveries().filter(status=Delivery.Status.SENDING, lease_until__gt=Now())
    return live.exclude(claim_token=token).values("claim_token").distinct().count()


def release(deliveries: Sequence[Delivery], token: uuid.UUID) -> int:
    """Give back claimed deliveries this run did not send: due again, as they were."""
    if not deliveries:
        return 0
    return Delivery.objects.filter(
        id__in=[d.id for d in deliveries], claim_token=token, status=Delivery.Status.SENDING
    ).update(
        status=Delivery.Status.PENDING,
        claim_token=None,
        claimed_at=None,
        lease_until=None,
        attempt_count=F("attempt_count") - 1,
        tries=F("tries") - 1,
        queued_at=timezone.now(),
    )


def postpone(lane: Lane, until: datetime) -> int:
    """While the breaker is open: the lane's pending deliveries wait until it may close
    (the sweeper queues them then); their tries are not spent."""
    return (
        lane.deliveries()
        .filter(status=Delivery.Status.PENDING, next_attempt_at__lt=until)
        .update(next_attempt_at=until, queued_at=None)
    )
