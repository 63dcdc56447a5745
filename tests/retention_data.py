"""Rows for the retention tests, made straight in the database (ages are the point here)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from notifications.models import Attempt, Delivery, MessageBody, Recipient
from tasks.models import Batch, BatchChunk, ShareLink, SkippedKey

DAY = timedelta(days=1)


def ago(days: float) -> datetime:
    return timezone.now() - days * DAY


def batch(
    *, status: str = "done", finished: float | None = 200, bucket: str = "b", **fields: Any
) -> Batch:
    values = {"created_at": ago((finished or 0) + 1), **fields}
    return Batch.objects.create(
        source="keys",
        bucket=bucket,
        expires_in=3600,
        status=status,
        finished_at=None if finished is None else ago(finished),
        **values,
    )


def links(owner: Batch, count: int = 1, **fields: Any) -> list[ShareLink]:
    """Links ended long ago (expired without refresh 200 days back) unless fields say else."""
    values = {"expires_at": ago(200), "issued_at": ago(201), **fields}
    return ShareLink.objects.bulk_create(
        ShareLink(
            batch=owner,
            bucket=owner.bucket,
            key=f"k/{uuid.uuid4().hex}",
            url="https://x/y",
            ttl=3600,
            **values,
        )
        for _ in range(count)
    )


def extras(owner: Batch) -> None:
    """A chunk and a skipped key: they go with their batch."""
    BatchChunk.objects.create(batch=owner, index=0, keys=["a"], status="done")
    SkippedKey.objects.create(batch=owner, key="gone", reason="missing")


def recipient() -> Recipient:
    return Recipient.objects.create(kind="email", email=f"{uuid.uuid4().hex[:8]}@example.com")


def delivery(
    *,
    status: str = "delivered",
    created: float = 40,
    body: MessageBody | None = None,
    attempts: int = 1,
    to: Recipient | None = None,
    last_attempt: float | None = None,
) -> Delivery:
    body = body or MessageBody.objects.create(text="{}", created_at=ago(created))
    made = Delivery.objects.create(
        recipient=to or recipient(),
        event_type="links.issued",
        subject="s",
        body=body,
        status=status,
        created_at=ago(created),
        delivered_at=ago(created) if status == "delivered" else None,
    )
    for number in range(1, attempts + 1):
        started = ago(last_attempt if last_attempt is not None and number == attempts else created)
        Attempt.objects.create(
            delivery=made, number=number, started_at=started, outcome="delivered"
        )
    return made
