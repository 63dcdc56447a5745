"""Revoking links: never refreshed again, permalinks answer 410, recipients get `links.revoked`.

S3 cannot take back a pre-signed URL already handed out: it works until it expires.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from tasks.models import ShareLink
from tasks.refresh.announce import announce


@dataclass(frozen=True)
class Revoked:
    links: int
    deliveries: int


def revoke(links: QuerySet[ShareLink]) -> Revoked:
    """Revoke the active links among these (others are left as they are), in one transaction."""
    with transaction.atomic():
        # A refresh pass that claimed some of them writes nothing to them: it needs them active.
        active = links.filter(status=ShareLink.Status.ACTIVE).select_for_update(of=("self",))
        ids = list(active.values_list("id", flat=True))
        if not ids:
            return Revoked(0, 0)
        ShareLink.objects.filter(id__in=ids).update(
            status=ShareLink.Status.REVOKED,
            revoked_at=timezone.now(),
            refresh_at=None,
            refresh_claim=None,
        )
        return Revoked(len(ids), announce("links.revoked", ids))
