"""Embedded stand-ins for `make demo`: an S3 emulator (moto) and an SMTP sink.

The webhook receiver is demo.receiver (shared with the tests).

Not for production and not for tests of signatures: moto does not check them.
"""

from __future__ import annotations

import email
import email.policy
import logging
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit


def start_s3_emulator(endpoint_url: str) -> object:
    """Start moto's S3 server at the endpoint (a loopback port demo/ports.py found free)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    parts = urlsplit(endpoint_url)
    if parts.hostname not in {"127.0.0.1", "localhost"}:
        raise RuntimeError(f"the embedded S3 emulator only runs on loopback, not {endpoint_url}")
    server = ThreadedMotoServer(ip_address=parts.hostname, port=parts.port or 80, verbose=False)
    server.start()
    return server


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self, host: str, port: int) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self._controller = Controller(self, hostname=host, port=port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
