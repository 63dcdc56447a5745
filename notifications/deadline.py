"""A hard wall-clock deadline on blocking socket I/O, whatever the other end does.

Socket timeouts bound each operation, not the whole exchange: a server that sends one byte
every half second never trips a 15 s read timeout. Here one watchdog thread per process
holds the deadlines of the attempts in flight; when one passes, it shuts the attempt's
sockets down (`shutdown(SHUT_RDWR)`), which wakes the blocked connect, send or receive in
the sending thread at once, TLS included. The sender then sees `Deadline.expired` and
reports a timeout.

    with Deadline(15) as deadline:      # the current deadline of this thread
        ...                             # sockets opened for it call watch(sock)
    deadline.expired                    # True when the watchdog cut it off

    Deadline(1, then=more)              # at 1 s, more() may give more time, once (> 0)

A kept-alive socket is watched through its object: once closed, the object has no
descriptor any more, so the watchdog can never shut down a number reused meanwhile. A new
socket is watched through a duplicate descriptor of the watchdog's own (`copy=True`), which
stays valid while TLS wraps (and detaches) the original, until the attempt ends.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

_local = threading.local()


class Deadline:
    def __init__(self, seconds: float, then: Callable[[], float] | None = None) -> None:
        """`then`: called by the watchdog when `seconds` have passed with the attempt still in
        flight; the seconds it returns (> 0) are added to the deadline, once (0: cut off)."""
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._then = then
        self._sockets: list[socket.socket] = []
        self._copies: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = False

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def watch(self, sock: socket.socket, copy: bool = False) -> None:
        """Cut `sock` off when the deadline passes (at once if it already has)."""
        with contextlib.suppress(OSError):
            own = socket.socket(fileno=os.dup(sock.fileno())) if copy else sock
            with self._lock:
                if not self._done:
                    self._sockets.append(own)
                    if copy:
                        self._copies.append(own)
                    if self.expired:
                        _shut(own)
                    return
            if copy:
                own.close()

    def expire(self) -> None:
        """Called by the watchdog when the time is up: cut off, unless `then` gives more."""
        with self._lock:
            if self._done:
                return
            more, self._then = (self._then() if self._then else 0.0), None
            if more <= 0:
                self.expired = True
                for sock in self._sockets:
                    _shut(sock)
                return
            self.seconds += more
            self.at += more
        watchdog().arm(self)

    def __enter__(self) -> Deadline:
        self._outer = getattr(_local, "deadline", None)
        _local.deadline = self
        watchdog().arm(self)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _local.deadline = self._outer
        watchdog().disarm(self)
        with self._lock:
            self._done = True
            self._sockets, copies, self._copies = [], self._copies, []
        for sock in copies:
            sock.close()  # our duplicates only: the connection itself stays open if healthy


def current() -> Deadline | None:
    """The deadline of the attempt this thread is making, if any."""
    return getattr(_local, "deadline", None)


def watch(sock: socket.socket, copy: bool = False) -> None:
    """Put `sock` under this thread's current deadline (no-op outside an attempt); `copy` for
    a socket that TLS may wrap and detach during the attempt."""
    deadline = current()
    if deadline is not None:
        deadline.watch(sock, copy)


def _shut(sock: socket.socket) -> None:
    """shutdown(2) on the descriptor; the plain socket method even for a TLS socket, whose own
    would also drop its TLS state under the thread reading it."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watchdog:
    """One daemon thread that expires the deadlines of the attempts in flight.

    It sleeps until the earliest deadline still armed: an attempt that ends in time disarms
    its own, so the thread wakes only for attempts that overrun (or to re-aim at the next
    earliest), not once per attempt.
    """

    def __init__(self) -> None:
        self._armed: set[Deadline] = set()
        self._wake_at = math.inf
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="deadline-watchdog", daemon=True)
        self._thread.start()

    def arm(self, deadline: Deadline) -> None:
        with self._wake:
            self._armed.add(deadline)
            if deadline.at < self._wake_at:
                self._wake.notify()

    def disarm(self, deadline: Deadline) -> None:
        with self._wake:
            self._armed.discard(deadline)

    def _run(self) -> None:
        while True:
            with self._wake:
                now = time.monotonic()
                due = [deadline for deadline in self._armed if deadline.at <= now]
                self._armed.difference_update(due)
                self._wake_at = min((d.at for d in self._armed), default=math.inf)
                if not due:
                    wait = None if self._wake_at == math.inf else self._wake_at - now
                    self._wake.wait(wait)
                    continue
            for deadline in due:
                deadline.expire()


_watchdog: Watchdog | None = None
_watchdog_lock = threading.Lock()


def watchdog() -> Watchdog:
    global _watchdog
    with _watchdog_lock:
        if _watchdog is None:
            _watchdog = Watchdog()
        return _watchdog


def _after_fork() -> None:  # threads do not survive fork: a child starts its own watchdog
    global _watchdog, _watchdog_lock
    _watchdog, _watchdog_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_after_fork)
