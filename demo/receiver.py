"""The loopback webhook receiver shared by the demo and the tests: a real HTTP server.

It answers from a script (`Reply`s in order, then `default`), keeps every request, and when
`verify` is on it checks each request's Standard Webhooks signature with `secret` first:
503 until the secret is known (the sender retries), 400 for a bad signature.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Reply:
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


NOT_READY = Reply(status=503, body=b"")
BAD_SIGNATURE = Reply(status=400, body=b"")


class Receiver:
    """Answers with `script` replies in order, then with `default` forever."""

    def __init__(
        self,
        script: list[Reply] | None = None,
        default: Reply | None = None,
        *,
        verify: bool = False,
        secret: str | None = None,
    ) -> None:
        self.script = list(script or [])
        self.default = default or Reply()
        self.verify = verify
        self.secret = secret
        self.requests: list[Received] = []
        self.verified: list[dict[str, Any]] = []  # {"id": webhook-id, "payload": parsed body}
        self.rejected = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_reply(self, received: Received) -> Reply:
        with self._lock:
            self.requests.append(received)
            if self.verify:
                refusal = self._check_signature(received)
                if refusal is not None:
                    return refusal
            return self.script.pop(0) if self.script else self.default

    def _check_signature(self, received: Received) -> Reply | None:
        if self.secret is None:
            return NOT_READY
        headers = {name.lower(): value for name, value in received.headers.items()}
        try:
            payload = Webhook(self.secret).verify(received.body, headers)
        except WebhookVerificationError:
            self.rejected += 1
            return BAD_SIGNATURE
        self.verified.append({"id": headers.get("webhook-id"), "payload": payload})
        return None

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) >= count:
                return list(self.requests)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} requests, got {len(self.requests)}")

    def wait_for_event(
        self, event_type: str, tick: Callable[[], object] = lambda: None, timeout: float = 30
    ) -> dict[str, Any]:
        """The first event of that type received (verified when verifying); tick() while none."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if event.get("type") == event_type:
                    return event
            tick()
            time.sleep(0.5)
        raise TimeoutError(f"the receiver got no {event_type} in {timeout:g} s")

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            if self.verify:
                return [message["payload"] for message in self.verified]
            return [json.loads(received.body) for received in self.requests]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                received = Received(
                    "POST", self.path, dict(self.headers.items()), body, time.time()
                )
                reply = receiver.next_reply(received)
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler
