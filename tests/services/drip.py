"""Misbehaving webhook receivers on loopback: one that drips its answer a byte at a time, one
that never answers, one that answers 500 to everything.

    with DripServer("status") as server:   # the status line, one byte every `interval`
        server.url
    modes: "status" (status line and headers dripped), "body" (headers at once, then a long
    body dripped), "hang" (reads the request, then says nothing), "error" (500 at once)

Each connection is served by its own thread until the client goes away or `stop()`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType

STATUS = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
BODY_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"
ERROR = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nnope"


class DripServer:
    def __init__(self, mode: str, interval: float = 0.2, healthy_first: int = 0) -> None:
        assert mode in {"status", "body", "hang", "error"}
        self.mode = mode
        self.interval = interval
        self.healthy_first = healthy_first  # answer this many requests at once, then misbehave
        self.requests = 0
        self.connections = 0
        self.closed_after: list[float] = []  # seconds from request to the client hanging up
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/hook"

    def start(self) -> DripServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()

    def __enter__(self) -> DripServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, t: TracebackType | None
    ) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while not self._stopping.is_set():
                if not _read_request(conn):
                    return
                with self._lock:
                    self.requests += 1
                    healthy = self.requests <= self.healthy_first
                if healthy:
                    conn.sendall(STATUS)
                    continue
                started = time.monotonic()
                if not self._answer(conn):
                    with self._lock:
                        self.closed_after.append(time.monotonic() - started)
                    return

    def _answer(self, conn: socket.socket) -> bool:
        """True when the answer was sent whole (the connection may carry another request)."""
        if self.mode == "error":
            conn.sendall(ERROR)
            return True
        if self.mode == "hang":
            return _wait_for_close(conn, self._stopping)
        data = STATUS if self.mode == "status" else BODY_HEAD + b"x" * 100000
        start = 0 if self.mode == "status" else len(BODY_HEAD)
        with contextlib.suppress(OSError):
            conn.sendall(data[:start])
            for offset in range(start, len(data)):
                if self._stopping.wait(self.interval):
                    return False
                conn.sendall(data[offset : offset + 1])
            return True
        return False


def _read_request(conn: socket.socket) -> bool:
    """Read one request (headers and a Content-Length body); False when the client left."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            body += chunk
    except OSError:
        return False
    return True


def _wait_for_close(conn: socket.socket, stopping: threading.Event) -> bool:
    conn.settimeout(0.2)
    while not stopping.is_set():
        try:
            if not conn.recv(1024):
                return False
        except TimeoutError:
            continue
        except OSError:
            return False
    return False
