"""Embedded stand-ins for `make demo`: an S3 emulator (moto), an SMTP sink, a webhook receiver.

Not for production and not for tests of signatures: moto does not check them.
"""

from __future__ import annotations

import email
import email.policy
import logging
import threading
import urllib.request
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
            return True
    except OSError as error:
        return getattr(error, "code", None) is not None  # an HTTP error still answers


def start_s3_emulator(endpoint_url: str) -> object | None:
    """Start moto's S3 server at the endpoint unless something answers there already."""
    if answers(endpoint_url):
        return None
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


class VerifyingReceiver:
    """A webhook receiver that verifies every request with the Standard Webhooks package."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.verified: list[dict[str, Any]] = []
        self.rejected = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/links"

    def __enter__(self) -> VerifyingReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def receive(self, body: bytes, headers: dict[str, str]) -> int:
        if self.secret is None:
            return 503  # not ready: the sender retries
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            self.rejected += 1
            return 400
        self.verified.append({"id": headers.get("webhook-id"), "payload": payload})
        return 204

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.receive(body, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler
