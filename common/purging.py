"""How a purge deletes: chunk after chunk, each in a short transaction that never waits long.

Each chunk runs in its own transaction with a lock timeout, so that a row the live path
holds is skipped (SKIP LOCKED in the chunk's select) and a lock the purge would wait on
fails fast instead of queueing the refresh pass or a delivery run behind it. A `Pace`
spaces the chunks and ends a run at its deadline; the next run goes on where it stopped.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from django.db import OperationalError

from common.dbops import atomic_with_lock_timeout, is_lock_timeout
from common.metrics import RETENTION_FAILURES, RETENTION_PURGED

log = logging.getLogger(__name__)
LOCK_TIMEOUT_SECONDS = 0.5


def short_transaction() -> AbstractContextManager[None]:
    """A chunk's transaction: a lock held by the live path is waited for half a second."""
    return atomic_with_lock_timeout(LOCK_TIMEOUT_SECONDS)


@contextmanager
def next_run_if_locked(what: str, tally: Tally) -> Iterator[None]:
    """A lock the block would wait for (lock_timeout) leaves `what` to the next run: logged and
    counted as a failure, not raised."""
    try:
        yield
    except OperationalError as error:
        if not is_lock_timeout(error):
            raise
        log.warning("retention: %s waits for the next run (a lock is held)", what)
        tally.failed("lock", f"{what}: a lock is held")


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
