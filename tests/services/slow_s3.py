"""A slow S3 for the tests: a TCP proxy on loopback in front of LocalStack that holds each HEAD
and ListObjectsV2 request for a while before passing it on, and counts them.

    with SlowS3(delay=0.3) as s3:   # s3.url: the endpoint to give the processes under test
        ...
        s3.seen["list"], s3.seen["head"]

Bytes pass through unchanged (the Host header included), so SigV4 signatures made for the
proxy's address are checked by LocalStack as usual.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from types import TracebackType
from urllib.parse import urlsplit


def kind_of(data: bytes) -> str | None:
    """`head` or `list` when these bytes start such a request."""
    line = data.split(b"\r\n", 1)[0]
    if line.startswith(b"HEAD "):
        return "head"
    if line.startswith(b"GET ") and b"list-type=2" in line:
        return "list"
    return None


class SlowS3:
    def __init__(self, upstream: str, delay: float) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.delay = delay
        self.seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def __enter__(self) -> SlowS3:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._server.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, slow: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                kind = kind_of(data) if slow else None
                if kind is not None:
                    with self._lock:
                        self.seen[kind] += 1
                    time.sleep(self.delay)
                target.sendall(data)
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
