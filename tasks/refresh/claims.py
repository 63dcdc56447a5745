"""Taking due links so that two passes (or two workers) never refresh the same one.

A pass leases a chunk of due links in one short transaction: SELECT … FOR UPDATE SKIP LOCKED
(another pass taking links at the same moment skips these rows), then their refresh_at is
moved to the end of the lease (now + LINKS_REFRESH_LEASE), so they are no longer due. The
pass then checks and signs them with no transaction open (S3 HEADs, manifest uploads), and
saves them in a second short transaction, each write conditional on the link being still
active and still leased by this pass (refresh_at equal to its lease). So:
- two passes never take the same link: a link is taken again only once its lease has ended,
  and then with a later lease, which the first pass's conditional writes no longer match;
- a pass that dies leaves its links leased until the lease ends, then they are due again;
- a revocation (which clears refresh_at) is never overwritten, and never waits for a pass's
  S3 calls: no row lock is held while they run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction
from django.db.models import QuerySet

from common.idlists import id_in
from tasks.models import ShareLink

# expires_at: a link re-signed after it had expired is counted (lapsed without refresh).
TAKEN_FIELDS = (
    "id",
    "batch",
    "bucket",
    "key",
    "filename",
    "ttl",
    "version",
    "refresh_until",
    "token",
    "refresh_at",
    "expires_at",
)
# Links due at the same instant (a whole batch after an outage, or set due together) are taken
# in id order, which is the order they were issued in, a chunk's keys together: so a chunk is a
# run of neighbouring keys that one ListObjectsV2 page checks, not keys scattered over the
# batch (which would be HEADed one by one). The index links_due_for_refresh holds this order.
IN_ORDER = ("refresh_at", "id")


def due(now: datetime) -> QuerySet[ShareLink]:
    """Active links due for a refresh: one range scan of the partial index on refresh_at."""
    return ShareLink.objects.filter(status=ShareLink.Status.ACTIVE, refresh_at__lte=now)


def take(now: datetime, limit: int, lease: datetime) -> list[ShareLink]:
    """Up to `limit` due links, leased until `lease` (committed when this returns).

    PostgreSQL: one statement, `UPDATE … WHERE id IN (due … FOR UPDATE SKIP LOCKED LIMIT n)
    RETURNING …`, with due() as the subquery (no list of ids goes back and forth)."""
    if connection.vendor == "postgresql":
        return take_at_once(now, limit, lease)
    with transaction.atomic():
        rows = due(now).order_by(*IN_ORDER).select_for_update(skip_locked=True, of=("self",))
        links = list(rows.only(*TAKEN_FIELDS)[:limit])
        ShareLink.objects.filter(id__in=[link.id for link in links]).update(refresh_at=lease)
    for link in links:
        link.refresh_at = lease
    return links


def take_at_once(now: datetime, limit: int, lease: datetime) -> list[ShareLink]:
    chosen = due(now).order_by(*IN_ORDER).values("id")[:limit]
    sql, params = chosen.query.sql_with_params()
    table = ShareLink._meta.db_table
    columns = ", ".join(f"{name}_id" if name == "batch" else name for name in TAKEN_FIELDS)
    query = (
        f'UPDATE "{table}" SET refresh_at = %s WHERE id IN ({sql} FOR UPDATE OF "{table}" '  # noqa: S608 - constants and the ORM's SQL
        f"SKIP LOCKED) RETURNING {columns}"
    )
    return list(ShareLink.objects.raw(query, [lease, *params]))


def held(ids: Sequence[int], lease: datetime) -> QuerySet[ShareLink]:
    """The links among these still active and still leased until `lease` (by this pass)."""
    return ShareLink.objects.filter(id_in(ids), status=ShareLink.Status.ACTIVE, refresh_at=lease)


def stop(ids: Sequence[int], lease: datetime) -> int:
    """No more refreshes for these: they lapse at their expiry."""
    return held(ids, lease).update(refresh_at=None)


def postpone(ids: Sequence[int], lease: datetime, until: datetime) -> int:
    """Try these again later (they cannot be refreshed by this process now)."""
    return held(ids, lease).update(refresh_at=until)


def still_active(ids: Sequence[int]) -> int:
    """How many of these links are still active (whatever their lease)."""
    return ShareLink.objects.filter(id_in(ids), status=ShareLink.Status.ACTIVE).count()
