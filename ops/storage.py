"""What the kept records cost: rows and bytes (indexes and TOAST included) per table.

From PostgreSQL's catalog, not count(*): a scrape must stay cheap on a table of 100 million
links. Rows are the planner's estimate (kept fresh by autovacuum's ANALYZE); a table never
analyzed yet (reltuples < 0, a young one) is counted exactly.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Model

from notifications.models import Attempt, Delivery, MessageBody
from schedules.models import ScheduleRun
from tasks.models import Batch, BatchChunk, Revocation, ShareLink, SkippedKey

KEPT: tuple[type[Model], ...] = (
    Batch, BatchChunk, SkippedKey, ShareLink, Revocation,
    Delivery, Attempt, MessageBody, ScheduleRun,
)  # fmt: skip

SIZES = """
SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid)
FROM pg_class c WHERE c.relname = ANY(%s) AND c.relkind = 'r' AND pg_table_is_visible(c.oid)
"""


def tables() -> dict[str, tuple[int, int]]:
    """{table: (rows, bytes)} of every table the retention purge keeps bounded."""
    names = {model._meta.db_table: model for model in KEPT}
    if connection.vendor != "postgresql":
        return {name: (model._default_manager.count(), 0) for name, model in names.items()}
    with connection.cursor() as cursor:
        cursor.execute(SIZES, [list(names)])
        found = {name: (rows, size) for name, rows, size in cursor.fetchall()}
    for name, (rows, size) in found.items():
        if rows < 0:
            found[name] = (names[name]._default_manager.count(), size)
    return found
