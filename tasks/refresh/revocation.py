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
        # Waits for a refresh pass holding some of them; what it saved is then revoked too.
        active = links.filter(status=ShareLink.Status.ACTIVE).select_for_update(of=("self",))
        pairs = list(active.values_list("batch_id", "id"))
        if not pairs:
            return Revoked(0, 0)
        ShareLink.objects.filter(id__in=[link_id for _, link_id in pairs]).update(
            status=ShareLink.Status.REVOKED, revoked_at=timezone.now(), refresh_at=None
        )
        return Revoked(len(pairs), announce("links.revoked", pairs))
