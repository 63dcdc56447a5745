"""First contact: sends to a webhook endpoint that has never answered, from `deliveries`.

Such an endpoint is not known to fail, so its lane runs in `deliveries`, beside the healthy
ones; most new endpoints answer at once and go straight through. Two budgets keep a crowd of
new endpoints that do not answer from taking more than a bounded share of that process:

- the deadline: WEBHOOK_FIRST_CONTACT_TIMEOUT rather than WEBHOOK_TIMEOUT (transports/webhook.py);
  cut off, the delivery is retried at once in quarantine with the full deadline, its try not
  spent (recorder.py), and from `deliveries` quarantine records the cut too (cutoff.py);
- the slots: at most WEBHOOK_FIRST_CONTACTS first contacts in flight per `deliveries` process.
  A round holds its slot until its first send ends: a new endpoint that answers gives it back
  within milliseconds, one that does not answer holds it up to its deadline. A run that finds
  every slot taken waits SLOT_WAIT for one, so that a burst of new endpoints that answer goes
  through (their slots turn over fast); if none frees up, the slots are held by endpoints that
  do not answer, and the run hands its lane to quarantine, where the first contact is made
  (under the same shorter deadline) without a cap. The run looks before it claims: with no
  slot free, one short query tells whether the lane has deliveries due to a new endpoint, and
  a lane handed over was never claimed (a claim, then its release, cost `deliveries` half as
  much CPU as a healthy lane's whole run: docs/performance.md).
"""

from __future__ import annotations

import os
import threading

from django.conf import settings
from django.db.models import QuerySet

from notifications.models import Delivery, Recipient


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


def due_to_new_endpoint(deliveries: QuerySet[Delivery]) -> bool:
    """Some of these deliveries go to an endpoint whose next send is a first contact (the
    test of is_first_contact, in one query)."""
    new = deliveries.filter(
        recipient__last_success_at__isnull=True, recipient__consecutive_failures=0
    )
    return deadline() is not None and new.exists()


# A new endpoint that answers gives its slot back within milliseconds, even on a busy process.
# (bench/bench_isolation.py: with no wait, and slots held for whole rounds, 1,000 new healthy
# endpoints filled the 20 slots and up to 8 of their lanes a run went to quarantine, behind
# its slow endpoints.)
SLOT_WAIT = 0.25

_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(int(settings.WEBHOOK_FIRST_CONTACTS))
        return _slots


def take_slot(wait: float = 0.0) -> bool:
    """One of this process's first-contact slots, if one is free within `wait` seconds."""
    if wait <= 0:
        return _semaphore().acquire(blocking=False)
    return _semaphore().acquire(timeout=wait)


def give_slot() -> None:
    _semaphore().release()


def slot_free(wait: float = 0.0) -> bool:
    """A slot is free now, or frees up within `wait` seconds; none is kept (the run takes one
    once its claim shows a first contact: held across a claim, slots ran short)."""
    if take_slot(wait):
        give_slot()
        return True
    return False


class Slot:
    """A round's slot, given back once: after its first send, or when the round ends."""

    def __init__(self, held: bool) -> None:
        self.held = held

    def give(self) -> None:
        if self.held:
            self.held = False
            give_slot()


def _after_fork() -> None:
    global _slots, _slots_lock
    _slots, _slots_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_after_fork)
