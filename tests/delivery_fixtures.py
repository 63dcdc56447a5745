"""Fixtures for the delivery tests: real links to real objects, webhook endpoints, waiting."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from demo.receiver import Receiver, Reply
from media.signing import sign
from notifications.models import Delivery, Recipient
from notifications.payloads import iso
from notifications.recipients import recipient_from_spec

FINAL = {Delivery.Status.DELIVERED, Delivery.Status.FAILED}


@dataclass
class Links:
    items: list[dict[str, Any]]
    contents: dict[str, bytes]  # key -> the object's bytes


@dataclass
class Endpoint:
    receiver: Receiver
    recipient: Recipient
    secret: str

    def verified(self, secret: str | None = None) -> list[dict[str, Any]]:
        """Every request the receiver got, verified with the secret (raises if one fails)."""
        hook = Webhook(secret or self.secret)
        return [hook.verify(r.body, r.headers) for r in self.receiver.requests]


def link_items(keys: Iterable[str], expires_in: int = 600) -> list[dict[str, Any]]:
    items = []
    for number, key in enumerate(keys, start=1):
        filename = key.rsplit("/", 1)[-1]
        signed = sign(key, expires_in, filename=filename)
        items.append(
            {
                "id": number,
                "key": key,
                "url": signed.url,
                "expires_at": iso(signed.expires_at),
                "permalink": f"https://links.example/l/{uuid.uuid4().hex}",
                "filename": filename,
            }
        )
    return items


@pytest.fixture
def make_links(put_object: Callable[..., str]) -> Callable[..., Links]:
    """make_links(3) -> three uploaded objects and their signed link items."""

    def make(count: int, prefix: str = "deliveries") -> Links:
        run = uuid.uuid4().hex[:8]
        contents = {
            f"{prefix}/{run}/file {n}.txt": f"body {n} of {run}".encode() for n in range(count)
        }
        for key, body in contents.items():
            put_object(key, body)
        return Links(link_items(contents), contents)

    return make


@pytest.fixture
def endpoint(receiver: Callable[..., Receiver]) -> Callable[..., Endpoint]:
    """endpoint(script=[Reply(500)]) -> a loopback receiver and its webhook recipient."""

    def make(
        script: list[Reply] | None = None, default: Reply | None = None, **spec: Any
    ) -> Endpoint:
        hook = receiver(script, default)
        new = recipient_from_spec(None, {"webhook": hook.url, **spec})
        secret = spec.get("secret") or new.secret
        assert secret is not None
        return Endpoint(hook, new.recipient, secret)

    return make


def wait_final(deliveries: Iterable[Delivery | Any], timeout: float = 30) -> list[Delivery]:
    """Wait until every delivery is delivered or failed; returns them fresh from the DB."""
    ids = [getattr(d, "id", d) for d in deliveries]
    deadline = time.monotonic() + timeout
    while True:
        rows = list(Delivery.objects.filter(id__in=ids).order_by("part", "created_at"))
        if len(rows) == len(ids) and all(row.status in FINAL for row in rows):
            return rows
        if time.monotonic() > deadline:
            states = [(str(r.id)[:8], r.status, r.attempt_count, r.last_error) for r in rows]
            raise AssertionError(f"deliveries not final after {timeout}s: {states}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def test_database_url(django_db_setup: None, django_db_blocker: Any) -> str:
    """The URL of this run's test database, for processes the tests start."""
    import os

    from django.db import connection

    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
    return os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
