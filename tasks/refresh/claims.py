"""Taking due links so that two passes (or two workers) never refresh the same one.

A pass takes a chunk of due links and leases them with RefreshLease rows, one per run of the due
index ((refresh_at, id) order) it took, until now + LINKS_REFRESH_LEASE. The links themselves
are not written at take: a link written for its lease, then for its new signature, was two
updates of a row with six indexes where one will do. Passes take one at a time (an advisory
lock held by the take's short transaction), and a take reads only between the runs that other
leases hold. The pass then checks and signs the links with no transaction open, renewing its
lease (its own rows) as it goes, and saves them in a second short transaction that first
deletes its lease rows: a run whose row is gone had its lease end and was removed by another
pass's take, which may have taken those links, so nothing of that run is written. So:
- two passes never take the same link while its lease holds;
- a pass that dies leaves its runs leased until their lease ends, then they are due again;
- a revocation is never overwritten (every write is conditional on the link being still
  active), and never waits for a pass's S3 calls: no row lock is held while they run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet
from django.db.models.fields.tuple_lookups import (  # type: ignore[import-untyped]
    Tuple,
    TupleGreaterThan,
    TupleLessThan,
)
from psycopg.types.datetime import TimestamptzLoader

from common.dbops import atomic_with_lock_timeout, commit_without_waiting_for_disk
from common.idlists import id_in
from tasks.models import RefreshLease, ShareLink
from tasks.refresh.lease import Lease


@dataclass(frozen=True, slots=True)
class DueLink:
    """What a pass reads of a link it takes (a model instance cost more to make than the rest
    of its read: 11 % of a pass's CPU)."""

    id: int
    batch_id: uuid.UUID
    bucket: str
    key: str
    filename: str | None
    ttl: int
    version: int
    refresh_until: datetime | None
    token: str
    refresh_at: datetime
    expires_at: datetime  # a link re-signed after it had expired is counted (lapsed)


TAKEN_FIELDS = tuple(DueLink.__dataclass_fields__)
# Links due at the same instant (a whole batch after an outage, or set due together) are taken
# in id order, which is the order they were issued in, a chunk's keys together: so a chunk is a
# run of neighbouring keys that one ListObjectsV2 page checks, not keys scattered over the
# batch (which would be HEADed one by one). The index links_due_for_refresh holds this order,
# and the leases are runs of it.
IN_ORDER = ("refresh_at", "id")
TAKE_LOCK = (0x726566, 1)  # the advisory lock of takes ("ref")
Bound = tuple[datetime, int] | None


def due(now: datetime) -> QuerySet[ShareLink]:
    """Active links due for a refresh (leased or not): one range scan of the partial index."""
    return ShareLink.objects.filter(status=ShareLink.Status.ACTIVE, refresh_at__lte=now)


def take(now: datetime, limit: int, until: datetime) -> tuple[list[DueLink], Lease]:
    """Up to `limit` due links that no lease holds, leased until `until` (committed when this
    returns): read in the due index's order between the runs other passes hold."""
    taken: list[tuple[RefreshLease, list[DueLink]]] = []
    left = limit
    with atomic_with_lock_timeout(settings.LINKS_LOCK_TIMEOUT):
        commit_without_waiting_for_disk()  # a lease lost with the server: its links are due
        for after, before in gaps(leases_in_force(now)):
            found = read(between(due(now), after, before)[:left])
            if found:
                taken.append((run_of(found, until), found))
                left -= len(found)
            if not left:
                break
        RefreshLease.objects.bulk_create([run for run, _ in taken])
    runs = {run.id: [link.id for link in found] for run, found in taken}
    return [link for _, found in taken for link in found], Lease(runs, until)


def leases_in_force(now: datetime) -> list[RefreshLease]:
    """The runs other passes hold, in order, once the ended ones are removed (under the lock of
    takes, which this takes: the reads below see every lease committed before)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", TAKE_LOCK)
    RefreshLease.objects.filter(until__lte=now).delete()
    return list(RefreshLease.objects.order_by("first_at", "first_id"))


def gaps(held: Sequence[RefreshLease]) -> Iterator[tuple[Bound, Bound]]:
    """The stretches of the due index between the held runs: (after, before), None: no end."""
    after: Bound = None
    for run in held:
        yield after, (run.first_at, run.first_id)
        after = (run.last_at, run.last_id)
    yield after, None


def between(links: QuerySet[ShareLink], after: Bound, before: Bound) -> QuerySet[ShareLink]:
    """These links strictly between two places of the due index, in its order."""
    place: Any = Tuple("refresh_at", "id")
    if after is not None:
        links = links.filter(TupleGreaterThan(place, after))
    if before is not None:
        links = links.filter(TupleLessThan(place, before))
    return links.order_by(*IN_ORDER)


def read(links: QuerySet[ShareLink]) -> list[DueLink]:
    """These links, as a pass reads them. PostgreSQL: their times are read by psycopg's C
    loader, not by Django's (Python) one, which was another 11 % of a pass's CPU: the same
    instants, in UTC as the connection's time zone is."""
    rows = links.values_list(*TAKEN_FIELDS)
    if connection.vendor != "postgresql":
        return [DueLink(*row) for row in rows]
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:  # e.g. no ids at all
        return []
    with connection.cursor() as cursor:
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(sql, params)
        return [DueLink(*row) for row in cursor.fetchall()]


def run_of(links: Sequence[DueLink], until: datetime) -> RefreshLease:
    first, last = links[0], links[-1]
    return RefreshLease(
        first_at=first.refresh_at,
        first_id=first.id,
        last_at=last.refresh_at,
        last_id=last.id,
        until=until,
    )


def release(lease: Lease) -> list[int]:
    """Ends the lease, in the caller's transaction: the ids of the links it still held, which
    the pass may write (a run whose row is gone may have been taken by another pass)."""
    runs = RefreshLease.objects.filter(id__in=list(lease.runs))
    still = list(runs.select_for_update().values_list("id", flat=True))
    RefreshLease.objects.filter(id__in=still).delete()
    return [link_id for run in still for link_id in lease.runs[run]]


def held(lease: Lease) -> list[DueLink]:
    """The links of the lease's runs still in force, still active."""
    runs = RefreshLease.objects.filter(id__in=list(lease.runs)).values_list("id", flat=True)
    return read(active([link_id for run in runs for link_id in lease.runs[run]]))


def active(ids: Sequence[int]) -> QuerySet[ShareLink]:
    return ShareLink.objects.filter(id_in(ids), status=ShareLink.Status.ACTIVE)


def stop(ids: Sequence[int]) -> int:
    """No more refreshes for these (leased by the caller): they lapse at their expiry."""
    return active(ids).update(refresh_at=None)


def postpone(ids: Sequence[int], until: datetime) -> int:
    """Try these (leased by the caller) again later: they cannot be refreshed by this process
    now."""
    return active(ids).update(refresh_at=until)


def still_active(ids: Sequence[int]) -> int:
    """How many of these links are still active (whatever their lease)."""
    return active(ids).count()
