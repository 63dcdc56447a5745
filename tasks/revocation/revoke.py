"""Revoking links: never refreshed again, permalinks answer 410, recipients get `links.revoked`.

S3 cannot take back a pre-signed URL already handed out: it works until it expires.

A revocation is a row (tasks.models.Revocation) carried out in steps, each safe to run again:
the links are revoked in chunks of LINKS_REFRESH_CHUNK, each in a short transaction that waits
at most LINKS_LOCK_TIMEOUT for a row lock (a refresh pass holds none while it calls S3); then
the revoked links' recipients are told once, the manifest of a large email uploaded before the
transaction that publishes it. A lost worker leaves the row unfinished and the sweeper queues
it again. The links a revocation revokes get its `requested_at` as their `revoked_at`, which
tells them apart from links revoked by another one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from common.dbops import atomic_with_lock_timeout
from tasks.events.announce import announce, prepare_manifests
from tasks.models import Batch, Revocation, ShareLink

Status = Revocation.Status


@dataclass(frozen=True)
class Revoked:
    links: int
    deliveries: int


def revoke(links: QuerySet[ShareLink], *, by: Any = None, reason: str = "") -> Revoked:
    """Revoke the active links among these now, in this process (admin, CLI, one link, the
    refresh pass when their owner's access ended: `reason` says so in links.revoked)."""
    ids = list(links.filter(status=ShareLink.Status.ACTIVE).values_list("id", flat=True))
    if not ids:
        return Revoked(0, 0)
    revocation = Revocation.objects.create(link_ids=ids, requested_by=by, reason=reason)
    done = carry_out(revocation.id)
    return Revoked(done.revoked, done.deliveries)


def revoke_batch_now(batch: Batch, *, by: Any = None) -> Revoked:
    """Revoke a batch's links in this process (the command line), or finish its running
    revocation."""
    revocation, _ = revocation_for(batch, by=by)
    done = carry_out(revocation.id)
    return Revoked(done.revoked, done.deliveries)


def revocation_for(batch: Batch, *, by: Any = None) -> tuple[Revocation, bool]:
    """The batch's unfinished revocation, or a new one (True) to queue after commit."""
    with transaction.atomic():
        Batch.objects.select_for_update().filter(id=batch.id).first()  # one at a time
        running = batch.revocations.filter(status__in=Revocation.UNFINISHED).first()
        if running is not None:
            return running, False
        return Revocation.objects.create(batch=batch, requested_by=by), True


def carry_out(revocation_id: Any) -> Revocation:
    """Take the revocation through its remaining steps; it is done when this returns."""
    revocation = Revocation.objects.get(id=revocation_id)
    if revocation.status in (Status.PENDING, Status.REVOKING):
        revoke_all(revocation)
    if revocation.status == Status.ANNOUNCING:
        tell_recipients(revocation)
    revocation.refresh_from_db()
    return revocation


def targets(revocation: Revocation) -> QuerySet[ShareLink]:
    if revocation.batch_id is not None:
        return ShareLink.objects.filter(batch_id=revocation.batch_id)
    return ShareLink.objects.filter(id__in=revocation.link_ids)


def revoke_all(revocation: Revocation) -> None:
    Revocation.objects.filter(id=revocation.id, status=Status.PENDING).update(
        status=Status.REVOKING
    )
    while revoke_chunk(revocation) == settings.LINKS_REFRESH_CHUNK:
        pass
    Revocation.objects.filter(id=revocation.id, status=Status.REVOKING).update(
        status=Status.ANNOUNCING
    )
    revocation.status = Status.ANNOUNCING


def revoke_chunk(revocation: Revocation) -> int:
    """Revoke the next chunk of still-active targets; how many."""
    with atomic_with_lock_timeout(settings.LINKS_LOCK_TIMEOUT):
        active = targets(revocation).filter(status=ShareLink.Status.ACTIVE).order_by("id")
        ids = list(
            active.select_for_update(of=("self",)).values_list("id", flat=True)[
                : settings.LINKS_REFRESH_CHUNK
            ]
        )
        if ids:
            ShareLink.objects.filter(id__in=ids).update(
                status=ShareLink.Status.REVOKED,
                revoked_at=revocation.requested_at,
                refresh_at=None,
            )
            Revocation.objects.filter(id=revocation.id).update(revoked=F("revoked") + len(ids))
    return len(ids)


def revoked_by(revocation: Revocation) -> list[tuple[Any, int]]:
    """(batch id, link id) of the links this revocation revoked."""
    rows = targets(revocation).filter(
        status=ShareLink.Status.REVOKED, revoked_at=revocation.requested_at
    )
    return list(rows.order_by("id").values_list("batch_id", "id"))


def tell_recipients(revocation: Revocation) -> None:
    """Publish links.revoked once: the manifests first, then one transaction that publishes and
    marks the revocation done (a second run finds it done and publishes nothing)."""
    pairs = revoked_by(revocation)
    manifests = prepare_manifests(pairs)  # S3 uploads, no lock held
    with transaction.atomic():
        finished = Revocation.objects.filter(id=revocation.id, status=Status.ANNOUNCING).update(
            status=Status.DONE, finished_at=timezone.now()
        )
        if finished:
            reason = revocation.reason or None
            made = announce("links.revoked", pairs, manifests=manifests, reason=reason)
            Revocation.objects.filter(id=revocation.id).update(deliveries=made)


def give_up(revocation_id: Any, reason: str) -> None:
    Revocation.objects.filter(id=revocation_id, status__in=Revocation.UNFINISHED).update(
        status=Status.FAILED, error=reason[:2000], finished_at=timezone.now()
    )
