"""One wake-up, not one per byte, for the start of a webhook's answer.

A server that drips its answer a byte at a time wakes the thread reading it for every byte;
each wake-up takes the process's GIL from the threads delivering to healthy endpoints
(about 1 ms of CPU a byte, measured: docs/performance.md, isolation). While the answer's
first bytes are awaited, the socket's receive low-water mark (SO_RCVLOWAT) is raised to
FIRST_READ: the kernel wakes the reader only when that many bytes are queued, or at end of
stream, a reset, or the attempt's deadline (which shuts the socket down). Every HTTP answer
starts with more than FIRST_READ bytes that the server sends without waiting for anything
(`HTTP/1.1 200 \r\n\r\n` is 17; an encrypted TLS record at least 22), so no honest answer
is held up; the mark goes back to 1 for everything after the first read.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
from typing import Any

FIRST_READ = 16


def set_low_water(sock: Any, size: int) -> None:
    """SO_RCVLOWAT where the platform has it (Linux, BSDs); elsewhere nothing changes."""
    option = getattr(socket, "SO_RCVLOWAT", None)
    if option is not None and sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, option, size)


class LowWaterResponse(http.client.HTTPResponse):
    """http.client's response, whose status line is awaited with one wake-up."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self._sock_for_mark = sock

    def _read_status(self) -> tuple[str, int, str]:
        set_low_water(self._sock_for_mark, FIRST_READ)
        try:
            self.fp.peek(1)  # one read: the first FIRST_READ bytes (or the end, or the deadline)
        finally:
            set_low_water(self._sock_for_mark, 1)
        status: tuple[str, int, str] = super()._read_status()  # type: ignore[misc]
        return status
