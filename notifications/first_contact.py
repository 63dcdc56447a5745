"""First contact: sends to a webhook endpoint that has never answered, from `deliveries`.

Such an endpoint is not known to fail, so its lane runs in `deliveries`, beside the healthy
ones, and goes straight through when it answers: no wait, no queue of its own. Two budgets keep
a crowd of new endpoints that do not answer from taking more than a bounded share of that
process:

- the deadline: WEBHOOK_FIRST_CONTACT_TIMEOUT rather than WEBHOOK_TIMEOUT (transports/webhook.py);
  cut off, the delivery is retried at once in quarantine with the full deadline, its try not
  spent (recorder.py), and from `deliveries` quarantine records the cut too (cutoff.py);
- the slots: a first contact has WEBHOOK_FIRST_CONTACT_GRACE to answer; past that it runs on to
  its deadline only with one of the WEBHOOK_FIRST_CONTACTS slots of its `deliveries` process,
  taken by the deadline's watchdog at the grace and given back when the send ends. With every
  slot taken, it is cut off at the grace. So slow first contacts hold at most that many threads
  for long, while a new endpoint that answers never waits for a slot nor leaves the process.
  (The slots used to be taken before the send: a crowd of slow new endpoints then held them
  all, and new endpoints that answer at once were handed to quarantine with them, up to half
  of them in bench/bench_isolation.py: docs/performance.md.)
"""

from __future__ import annotations

import os
import threading

from django.conf import settings

from notifications.models import Recipient


def deadline() -> float | None:
    """The first contact's deadline, or None when it is not shorter than WEBHOOK_TIMEOUT."""
    seconds = float(settings.WEBHOOK_FIRST_CONTACT_TIMEOUT)
    return seconds if 0 < seconds < float(settings.WEBHOOK_TIMEOUT) else None


def is_first_contact(recipient: Recipient) -> bool:
    """Never answered, and not known to fail (an endpoint that failed runs in quarantine)."""
    return recipient.last_success_at is None and not recipient.consecutive_failures


def applies(recipient: Recipient) -> bool:
    """A send to this endpoint is a first contact, and first contacts have a shorter deadline."""
    return deadline() is not None and is_first_contact(recipient)


def grace() -> float | None:
    """The time a first contact from `deliveries` has before it needs a slot, or None when it
    has its whole deadline without one (no shorter first deadline, or a grace as long)."""
    limit = deadline()
    seconds = float(settings.WEBHOOK_FIRST_CONTACT_GRACE)
    return seconds if limit is not None and 0 < seconds < limit else None


_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(int(settings.WEBHOOK_FIRST_CONTACTS))
        return _slots


def take_slot() -> bool:
    """One of this process's first-contact slots, if one is free."""
    return _semaphore().acquire(blocking=False)


def give_slot() -> None:
    _semaphore().release()


class Overrun:
    """A first contact's hold on a slot past its grace (the deadline's `then`), given back when
    the send ends; `cut` tells whether the send was cut off at the grace for want of one."""

    def __init__(self, grace: float, limit: float) -> None:
        self.grace, self.limit = grace, limit
        self.held = self.cut = False

    def more_time(self) -> float:
        """Called by the watchdog at the grace: the rest of the deadline, with a slot, or 0."""
        self.held = take_slot()
        self.cut = not self.held
        return self.limit - self.grace if self.held else 0.0

    def __enter__(self) -> Overrun:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.held:
            self.held = False
            give_slot()


def _after_fork() -> None:
    global _slots, _slots_lock
    _slots, _slots_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_after_fork)
