"""A pass's hold on the chunk it took, renewed while the chunk is prepared.

The lease is the pass's RefreshLease rows, one per run of the due index it took (claims.py).
Preparing a chunk (S3 checks, signing, manifest uploads) may take longer than
LINKS_REFRESH_LEASE when S3 is slow: between its steps the pass renews the lease once less than
half of it is left, moving the end of its rows (not the links'). A run whose lease ended and
that another pass's take removed meanwhile is not renewed: its links are not the pass's any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import checks
from django.utils import timezone

from tasks.models import RefreshLease


def length() -> timedelta:
    return timedelta(seconds=settings.LINKS_REFRESH_LEASE)


@dataclass
class Lease:
    runs: dict[int, list[int]]  # RefreshLease id: the ids of the links of that run
    until: datetime
    renewals: int = 0

    @property
    def ids(self) -> list[int]:
        return [link_id for ids in self.runs.values() for link_id in ids]

    def keep(self, now: datetime | None = None) -> None:
        """Renew when less than half of the lease is left (one UPDATE of the pass's rows)."""
        now = timezone.now() if now is None else now
        if self.until - now > length() / 2:
            return
        new = now + length()
        RefreshLease.objects.filter(id__in=list(self.runs)).update(until=new)
        self.until = new
        self.renewals += 1


def chunk_size(pass_rate: float) -> int:
    """Links per chunk: LINKS_REFRESH_CHUNK, fewer when a chunk would take more than a third of
    the lease at this rate (links/s), at least 10."""
    fits = int(pass_rate * settings.LINKS_REFRESH_LEASE / 3)
    return max(min(settings.LINKS_REFRESH_CHUNK, fits), min(10, settings.LINKS_REFRESH_CHUNK))


def check_lease(**kwargs: object) -> list[checks.CheckMessage]:
    """tasks.W011: at LINKS_REFRESH_RATE, a chunk takes more than half the lease."""
    chunk, rate, lease = (
        settings.LINKS_REFRESH_CHUNK,
        settings.LINKS_REFRESH_RATE,
        settings.LINKS_REFRESH_LEASE,
    )
    if chunk / rate <= lease / 2:
        return []
    return [
        checks.Warning(
            f"LINKS_REFRESH_LEASE ({lease} s) is too short for LINKS_REFRESH_CHUNK ({chunk}): at "
            f"LINKS_REFRESH_RATE ({rate} links/s) a chunk takes {chunk / rate:.0f} s, more than "
            "half the lease; passes will take smaller chunks, and a slow S3 may make them lose "
            "their lease",
            hint=f"raise LINKS_REFRESH_LEASE to at least {2 * chunk / rate:.0f} s or lower "
            f"LINKS_REFRESH_CHUNK to at most {int(rate * lease / 2)}",
            id="tasks.W011",
        )
    ]
