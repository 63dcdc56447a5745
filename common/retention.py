"""The retention windows in force (settings RETENTION_*), and the cut-off instants they imply.

Pure values: both apps purge their own tables with these (retention,
retention); the admin shows `describe()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings


@dataclass(frozen=True)
class Windows:
    links: timedelta  # ended links and their batches, after the last link ended
    deliveries: timedelta  # ended deliveries, their attempts and message bodies
    schedule_runs: timedelta  # schedule runs (a schedule's last run is always kept)

    def cutoffs(self, now: datetime) -> Cutoffs:
        return Cutoffs(now - self.links, now - self.deliveries, now - self.schedule_runs)


@dataclass(frozen=True)
class Cutoffs:
    """Records that ended before these instants may go."""

    links: datetime
    deliveries: datetime
    schedule_runs: datetime


def in_force() -> Windows:
    return Windows(
        links=timedelta(seconds=settings.RETENTION_LINKS),
        deliveries=timedelta(seconds=settings.RETENTION_DELIVERIES),
        schedule_runs=timedelta(seconds=settings.RETENTION_SCHEDULE_RUNS),
    )


def human(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    return f"{seconds // 86400} days" if seconds % 86400 == 0 else f"{seconds} s"


def describe(windows: Windows | None = None) -> list[tuple[str, str]]:
    """(what, how long it is kept after it ended) for the admin and the purge command."""
    w = windows or in_force()
    return [
        ("ended links, their batches, chunks, skipped keys and manifests", human(w.links)),
        ("ended deliveries, their attempts and message bodies", human(w.deliveries)),
        ("schedule runs (never a schedule's last run)", human(w.schedule_runs)),
    ]
