"""The demo's refresh step: a short-lived link re-signed before it lapses and delivered again.

Runs with the demo's in-process worker on the in-memory broker; enqueueing the refresh task
every second stands in for `celery -A project beat`. A loopback receiver takes the webhooks.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from django.core.management.base import CommandError
from django.test import override_settings

from project.celery import app
from project.redact import redact
from project.s3 import media_client
from tasks.batchspec import BatchRequest
from tasks.issuing import create_batch
from tasks.tasks import refresh_links

KEY = "shares/refresh-demo.txt"
BODY = b"Still here: this link was re-signed before it lapsed.\n"
TTL = 6


class Inbox:
    """A loopback webhook endpoint keeping the events it receives."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                inbox.events.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, event_type: str, tick: Callable[[], object], timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event["type"] == event_type:
                    return event
            tick()
            time.sleep(1)
        raise CommandError(f"the receiver got no {event_type} in {timeout:g} s")


def run_refresh_demo(say: Callable[[str], None]) -> None:
    from celery.contrib.testing.worker import start_worker

    media_client().put_object(Bucket=bucket(), Key=KEY, Body=BODY)
    inbox = Inbox()
    loopback = {
        "WEBHOOK_ALLOW_HTTP": True,
        "WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.0/8"],
        "WEBHOOK_ALLOWED_PORTS": [(80, 80), (443, 443), (1024, 65535)],
    }
    try:
        with (
            override_settings(**loopback),
            start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"),
        ):
            request = BatchRequest(
                keys=[KEY], expires_in=TTL, refresh=True, recipients=[{"webhook": inbox.url}]
            )
            create_batch(request)
            issued = inbox.wait_for("links.issued", tick=lambda: None)["data"]["links"][0]
            say(f"webhook got links.issued: a {TTL}-second link, expires {issued['expires_at']}")
            fresh = inbox.wait_for("links.refreshed", tick=refresh_links.delay)["data"]["links"][0]
    finally:
        inbox.server.shutdown()
    say(f"webhook got links.refreshed before it lapsed: now expires {fresh['expires_at']}")
    say(f"    {redact(fresh['url'])[:110]}…")
    response = requests.get(fresh["url"], timeout=10)
    if response.content != BODY:
        raise CommandError(f"the refreshed link did not download: HTTP {response.status_code}")
    say("the refreshed link downloads the object")


def bucket() -> str:
    from django.conf import settings

    return str(settings.AWS_STORAGE_BUCKET_NAME)
