"""Purging ended deliveries, with their attempts and the message bodies no other delivery shares.

A delivery ended when it was delivered or failed for good; it may go once it was created,
delivered and last attempted before the cut-off. Pending or sending deliveries, and any a
replay or a worker holds right now (SKIP LOCKED), are never touched. Each chunk deletes
attempts, then deliveries, then their bodies left without a delivery, in one transaction: a
killed purge leaves either the whole chunk or none of it.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet

from common.purging import Pace, Tally, next_run_if_locked, short_transaction
from notifications.models import Attempt, Delivery, MessageBody

ENDED = (Delivery.Status.DELIVERED, Delivery.Status.FAILED)


def purgeable(cutoff: datetime) -> QuerySet[Delivery]:
    """Ended deliveries with nothing after the cut-off (the index on ended ones' created_at)."""
    recent = Attempt.objects.filter(delivery=OuterRef("pk"), started_at__gte=cutoff)
    return (
        Delivery.objects.filter(status__in=ENDED, created_at__lt=cutoff)
        .exclude(delivered_at__gte=cutoff)
        .exclude(Exists(recent))
    )


def purge_chunk(cutoff: datetime, size: int, tally: Tally) -> int:
    """One chunk in one short transaction; the number of deliveries it removed."""
    with short_transaction():
        rows = purgeable(cutoff).order_by("created_at").select_for_update(skip_locked=True)
        ids = list(rows.values_list("id", flat=True)[:size])
        if not ids:
            return 0
        bodies = set(Delivery.objects.filter(id__in=ids).values_list("body_id", flat=True))
        tally.add("attempt", Attempt.objects.filter(delivery_id__in=ids).delete()[0])
        tally.add("delivery", Delivery.objects.filter(id__in=ids).delete()[0])
        shared = Delivery.objects.filter(body=OuterRef("pk"))
        orphans = MessageBody.objects.filter(id__in=bodies).exclude(Exists(shared))
        tally.add("message_body", orphans.delete()[0])
    return len(ids)


def purge(cutoff: datetime, pace: Pace) -> Tally:
    """Chunk after chunk; a lock it would wait for ends this kind's turn for this run."""
    tally = Tally()
    with next_run_if_locked("deliveries", tally):
        while pace.go_on():
            if purge_chunk(cutoff, pace.chunk, tally) < pace.chunk:
                return tally
            pace.rest()
        tally.more = True
    return tally


def preview(cutoff: datetime) -> Tally:
    """What a purge would remove now (counts; bodies counted when no kept delivery shares them)."""
    tally = Tally(dry_run=True)
    going = purgeable(cutoff)
    tally.add("delivery", going.count())
    tally.add("attempt", Attempt.objects.filter(delivery__in=going).count())
    kept = Delivery.objects.exclude(id__in=going.values("id")).filter(body=OuterRef("pk"))
    bodies = MessageBody.objects.filter(id__in=going.values("body_id")).exclude(Exists(kept))
    tally.add("message_body", bodies.count())
    return tally
