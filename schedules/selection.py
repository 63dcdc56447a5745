"""Which listed objects a schedule's run shares (pure: listing entries in, keys out).

- newest N: the N objects with the latest LastModified (ties: the greater key), across
  every listing page, holding N entries at most (a bounded heap);
- new since the last run: objects past the high-water mark — the latest LastModified
  seen by an earlier run, with the keys seen at exactly that instant (S3 times have a
  second's resolution, so equal times are common and must neither repeat nor be missed);
- all: every object, at most `limit` of them.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

Entry = tuple[str, datetime]  # (key, LastModified)


class TooManyObjects(ValueError):
    pass


@dataclass(frozen=True)
class Mark:
    """The latest LastModified a run has shared, and the keys shared at exactly that time."""

    at: datetime | None = None
    keys: frozenset[str] = field(default_factory=frozenset)

    def is_new(self, entry: Entry) -> bool:
        key, modified = entry
        if self.at is None or modified > self.at:
            return True
        return modified == self.at and key not in self.keys


@dataclass(frozen=True)
class Selection:
    keys: list[str]
    mark: Mark  # the mark after this run


def newest(pages: Iterable[Iterable[Entry]], count: int) -> list[Entry]:
    """The `count` newest entries, newest first."""
    heap: list[tuple[datetime, str]] = []
    for page in pages:
        for key, modified in page:
            item = (modified, key)
            if len(heap) < count:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
    return [(key, modified) for modified, key in sorted(heap, reverse=True)]


def bounded(entries: Iterable[Entry], limit: int, what: str) -> list[Entry]:
    chosen: list[Entry] = []
    for entry in entries:
        chosen.append(entry)
        if len(chosen) > limit:
            raise TooManyObjects(
                f"{what}: more than {limit} objects (LINKS_MAX_BATCH_SIZE); nothing was sent"
            )
    return chosen


def advance(mark: Mark, chosen: Iterable[Entry]) -> Mark:
    """The mark once `chosen` has been shared."""
    at, keys = mark.at, set(mark.keys)
    for key, modified in chosen:
        if at is None or modified > at:
            at, keys = modified, {key}
        elif modified == at:
            keys.add(key)
    return Mark(at, frozenset(keys))


def select(
    rule: str, pages: Iterable[Iterable[Entry]], *, count: int, mark: Mark, limit: int
) -> Selection:
    """rule: "newest" | "new_since_last_run" | "all". Every rule moves the mark, so that switching a
    schedule to "new" later sends only what came after its last run."""
    entries = (entry for page in pages for entry in page)
    if rule == "newest":
        chosen = newest(pages, min(count, limit))
    elif rule == "new_since_last_run":
        chosen = bounded(filter(mark.is_new, entries), limit, "new objects since the last run")
    elif rule == "all":
        chosen = bounded(entries, limit, "the prefix")
    else:
        raise ValueError(f"unknown selection rule {rule!r}")
    return Selection([key for key, _ in chosen], advance(mark, chosen))
