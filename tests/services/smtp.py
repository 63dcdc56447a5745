"""A real SMTP server (aiosmtpd) on loopback whose received messages tests can read."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.services.ports import free_port


class _Collector:
    def __init__(self, sink: SmtpServer) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.sink.record(envelope.mail_from, list(envelope.rcpt_tos), message)
        return self.sink.reply

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
        self.sink.connections += 1
        session.host_name = hostname
        return responses


class SmtpServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.connections = 0
        self.reply = "250 OK"
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def record(self, sender: str, recipients: list[str], message: Any) -> None:
        with self._lock:
            self.envelopes.append((sender, recipients))
            self.messages.append(message)

    def start(self) -> None:
        self._controller = Controller(_Collector(self), hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()
            self.connections = 0

    def wait_for(self, count: int, timeout: float = 30) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} messages, got {len(self.messages)}")
