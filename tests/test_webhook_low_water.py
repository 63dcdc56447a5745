"""The start of a webhook's answer is awaited with one wake-up (SO_RCVLOWAT,
notifications/lowwater.py): a receiver that drips it wakes the sending thread once, not once a
byte, and an honest answer sent in tiny pieces is not held up by it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

from notifications.netguard import guarded_pool_manager
from notifications.transports import WebhookTransport
from notifications.transports.base import TransportError
from tests.services.drip import DripServer

TIMEOUT = 3
PIECES = [b"HTTP/1.1 20", b"4 No", b" Content\r", b"\n", b"\r\n"]  # 204, no body


@pytest.fixture
def short_deadline(settings):
    settings.WEBHOOK_TIMEOUT = TIMEOUT
    settings.WEBHOOK_CONNECT_TIMEOUT = 2
    return settings


@pytest.fixture
def socket_reads(monkeypatch):
    """How many times any socket was read through a file object (http.client's reads)."""
    reads = [0]
    original = socket.SocketIO.readinto

    def counted(self, buffer):  # type: ignore[no-untyped-def]
        reads[0] += 1
        return original(self, buffer)

    monkeypatch.setattr(socket.SocketIO, "readinto", counted)
    return reads


class PiecemealServer:
    """Answers every request with 204, its status line in tiny pieces 0.1 s apart, and keeps
    the connection open for the next request."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            conn, _ = self.listener.accept()
            self.connections += 1
            with conn:
                while self._read_request(conn):
                    for piece in PIECES:
                        time.sleep(0.1)
                        conn.sendall(piece)

    @staticmethod
    def _read_request(conn: socket.socket) -> bool:
        data = b""
        while not data.endswith(b"\r\n\r\n{}"):  # the tests post b"{}" with Content-Length
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        return True


def test_a_dripping_answer_wakes_the_sender_once_before_its_deadline(short_deadline, socket_reads):
    with DripServer("status", interval=0.25) as server:  # ~12 bytes in the 3 s
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            WebhookTransport(guarded_pool_manager(1)).post(server.url, b"{}", {})
        elapsed = time.monotonic() - started

    assert "timed out" in caught.value.message and TIMEOUT - 1 <= elapsed <= TIMEOUT + 1
    assert socket_reads[0] <= 2, f"{socket_reads[0]} reads for a dozen dripped bytes"


def test_a_slow_whole_answer_is_still_read_whole(short_deadline, socket_reads):
    with DripServer("status", interval=0.02) as server:  # 64 bytes in ~1.3 s
        sent = WebhookTransport(guarded_pool_manager(1)).post(server.url, b"{}", {})

    assert sent.status_code == 200
    assert socket_reads[0] <= 64 - 16 + 4  # the first 16 bytes were one read, not 16


def test_an_answer_sent_in_tiny_pieces_is_not_held_up(short_deadline):
    server = PiecemealServer()
    transport = WebhookTransport(guarded_pool_manager(1))
    times = []
    for _ in range(2):  # the second on the kept-alive connection
        started = time.monotonic()
        sent = transport.post(server.url, b"{}", {"Content-Type": "application/json"})
        times.append(time.monotonic() - started)
        assert sent.status_code == 204

    assert server.connections == 1
    assert max(times) < 1.5, times  # 5 pieces 0.1 s apart; held, it would take the 3 s deadline
