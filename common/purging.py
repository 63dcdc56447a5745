"""How a purge deletes: chunk after chunk, each in a short transaction that never waits long.

Each chunk runs in its own transaction with a lock timeout, so that a row the live path
holds is skipped (SKIP LOCKED in the chunk's select) and a lock the purge would wait on
fails fast instead of queueing the refresh pass or a delivery run behind it. A `Pace`
spaces the chunks and ends a run at its deadline; the next run goes on where it stopped.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction

from common.metrics import RETENTION_FAILURES, RETENTION_PURGED

LOCK_TIMEOUT_MS = 500
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout ran out


def is_lock_timeout(error: BaseException) -> bool:
    cause = getattr(error, "__cause__", None)
    return getattr(cause, "sqlstate", None) == LOCK_NOT_AVAILABLE


@contextmanager
def short_transaction() -> Iterator[None]:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
        yield


@dataclass
class Pace:
    """Chunks of `chunk` rows until `deadline` (time.monotonic()), working `duty` (0-1] of the
    time: after a chunk that took t seconds it rests t * (1 / duty - 1). The rest stretches
    by itself when the database is busy (chunks take longer), so the live path keeps its rate.
    """

    chunk: int
    duty: float = 1.0
    deadline: float = float("inf")
    started: float = field(default=0.0, repr=False)

    def go_on(self) -> bool:
        self.started = time.monotonic()
        return self.started < self.deadline

    def rest(self) -> None:
        if self.duty < 1:
            now = time.monotonic()
            rest = (now - self.started) * (1 / self.duty - 1)
            time.sleep(min(rest, max(0.0, self.deadline - now)))


@dataclass
class Tally:
    """Rows purged (or, in a dry run, that would be) by table; `more`: the run stopped early."""

    dry_run: bool = False
    rows: Counter[str] = field(default_factory=Counter)
    more: bool = False
    failures: list[str] = field(default_factory=list)

    def add(self, table: str, count: int) -> None:
        if count:
            self.rows[table] += count
            if not self.dry_run:
                RETENTION_PURGED.labels(table).inc(count)

    def failed(self, kind: str, message: str) -> None:
        """Work left undone this run: logged as ERROR by the caller, counted here."""
        self.failures.append(message)
        if not self.dry_run:
            RETENTION_FAILURES.labels(kind).inc()

    def merge(self, other: Tally) -> None:
        self.rows.update(other.rows)
        self.more = self.more or other.more
        self.failures += other.failures

    @property
    def total(self) -> int:
        return sum(self.rows.values())
