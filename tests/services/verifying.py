"""A verifying webhook consumer on loopback: it checks every signature, keeps the newest URL
of each link it was given, and fetches every link it holds on a short interval, counting
what the bucket answers (as a program relying on the links would notice a lapse).

    consumer = VerifyingConsumer(secret).start()   # consumer.url goes to a recipient
    consumer.set_secret(secret)                    # when the secret is known only later
    consumer.fetches, consumer.refused, consumer.failures, consumer.duplicates
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

import requests
from standardwebhooks.webhooks import Webhook

from demo.receiver import Receiver


class VerifyingConsumer:
    def __init__(self, secret: str | None = None, interval: float = 1.0) -> None:
        self.receiver = Receiver()
        self.secret = secret
        self.interval = interval
        self.links: dict[int, tuple[datetime, str]] = {}  # id -> (expires_at, url)
        self.fetches = 0
        self.refused: list[tuple[int, int]] = []  # (link id, HTTP status)
        self.failures: list[str] = []  # unverifiable requests, fetch errors
        self.seen: dict[str, int] = {}  # webhook-id -> times received
        self.events: list[tuple[float, str]] = []  # (received at, type)
        self._done = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._session = requests.Session()

    @property
    def url(self) -> str:
        return self.receiver.url

    @property
    def duplicates(self) -> list[str]:
        return [mid for mid, times in self.seen.items() if times > 1]

    def set_secret(self, secret: str) -> None:
        self.secret = secret

    def start(self) -> VerifyingConsumer:
        self.receiver.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.receiver.stop()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._take_new()
            self._fetch_all()

    def _take_new(self) -> None:
        if self.secret is None:
            return
        received = self.receiver.requests[self._done :]
        self._done += len(received)
        for request in received:
            try:
                event = Webhook(self.secret).verify(request.body, request.headers)
            except Exception as error:  # a forged or broken request is a failure
                self.failures.append(f"unverifiable request: {error}")
                continue
            message_id = request.headers["webhook-id"]
            self.seen[message_id] = self.seen.get(message_id, 0) + 1
            self.events.append((request.at, event["type"]))
            for link in event["data"]["links"]:
                self._hold(link)

    def _hold(self, link: dict[str, Any]) -> None:
        expires_at = datetime.fromisoformat(link["expires_at"].replace("Z", "+00:00"))
        held = self.links.get(link["id"])
        if held is None or held[0] < expires_at:
            self.links[link["id"]] = (expires_at, link["url"])

    def _fetch_all(self) -> None:
        for link_id, (_, url) in list(self.links.items()):
            try:
                status = self._session.get(url, timeout=5).status_code
            except requests.RequestException as error:
                self.failures.append(f"fetch of link {link_id}: {error}")
                continue
            self.fetches += 1
            if status != 200:
                self.refused.append((link_id, status))

    def summary(self) -> str:
        return json.dumps(
            {
                "links": len(self.links),
                "fetches": self.fetches,
                "refused": len(self.refused),
                "failures": self.failures[:3],
                "duplicates": len(self.duplicates),
                "events": len(self.events),
                "at": time.time(),
            }
        )
