"""Which links and batches have ended, as query conditions (no I/O).

A link ended when it was revoked, lapsed, or expired with no refresh ahead (its batch does
not refresh, or it passed refresh_until). A link still alive, or still meant to be
refreshed (even when late), has not ended whatever its age. A batch may go once it is
finished (done or failed) and every link it has ended before the cut-off.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from tasks.models import Batch, Revocation, ShareLink

Status = ShareLink.Status


def ended_before(cutoff: datetime) -> Q:
    """Links that ended before `cutoff` (and expired before it: a revoked URL still works
    until it expires)."""
    revoked = Q(status=Status.REVOKED) & (Q(revoked_at__isnull=True) | Q(revoked_at__lt=cutoff))
    no_refresh_ahead = Q(refresh_at__isnull=True) | Q(refresh_until__lt=cutoff)
    unrefreshed = Q(status=Status.ACTIVE) & no_refresh_ahead
    return Q(expires_at__lt=cutoff) & (Q(status=Status.LAPSED) | revoked | unrefreshed)


def still_held(cutoff: datetime) -> QuerySet[ShareLink]:
    """Links of the outer batch that keep it: alive, refreshing, or ended after the cut-off."""
    return ShareLink.objects.filter(batch=OuterRef("pk")).exclude(ended_before(cutoff))


def purgeable_batches(cutoff: datetime) -> QuerySet[Batch]:
    """Finished batches whose links all ended before the cut-off, oldest first."""
    unfinished = Revocation.objects.filter(batch=OuterRef("pk"), status__in=Revocation.UNFINISHED)
    return (
        Batch.objects.filter(
            status__in=(Batch.Status.DONE, Batch.Status.FAILED), finished_at__lt=cutoff
        )
        .exclude(Exists(still_held(cutoff)))
        .exclude(Exists(unfinished))
        .order_by("finished_at")
    )


def purgeable_revocations(cutoff: datetime) -> QuerySet[Revocation]:
    """Finished revocations by link ids (no batch) that ended before the cut-off."""
    finished = (Revocation.Status.DONE, Revocation.Status.FAILED)
    return Revocation.objects.filter(batch=None, status__in=finished, finished_at__lt=cutoff)
