"""Fewer, cheaper garbage collections in long-running worker processes.

A refresh or bulk chunk holds some 20,000 container objects at its peak (its link rows, a
listing page's parsed tree, the new signatures). With CPython's default first threshold (700
allocations), every chunk set off dozens of young collections and, in a worker whose start-up
heap is some 200,000 objects, a full one every few chunks: 3.5 s of a refresh worker's 23 s in a
300,000-link run (docs/performance.md, "Garbage collection"). So, once a worker has started:
- its heap so far (modules, settings, the app registry: alive for the process's life) is moved
  out of the collector's sight (`gc.freeze`), so a full collection no longer walks it;
- the first threshold is WORKER_GC_THRESHOLD: a chunk's objects are freed by reference
  counting before a young collection would look at them. Cycles are still collected.
"""

from __future__ import annotations

import gc


def tune(threshold: int) -> None:
    """Freeze the heap so far and raise the first threshold; 0 leaves Python's defaults."""
    if threshold <= 0:
        return
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(threshold, second, third)
