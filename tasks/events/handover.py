"""Handing a signed batch's links to the delivery outbox, with a CSV manifest for big emails."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from media.clients import media_client
from media.signing import sign
from notifications import outbox
from tasks.events.export import csv_pieces
from tasks.events.payloads import LINK_ITEM_COLUMNS, link_item
from tasks.models import Batch, ShareLink
from tasks.permalinks.serving import permalink_maker

MANIFEST_PREFIX = "_linkdist/manifests/"


def hand_over(batch_id: uuid.UUID | str) -> None:
    """Publish `links.issued` for a delivering batch and mark it done, in one transaction."""
    with transaction.atomic():
        batch = (
            Batch.objects.select_for_update()
            .filter(id=batch_id, status=Batch.Status.DELIVERING)
            .first()
        )
        if batch is None:
            return
        permalink = permalink_maker()
        links = batch.links.filter(status=ShareLink.Status.ACTIVE).order_by("key")
        items = [link_item(link, permalink) for link in links.only(*LINK_ITEM_COLUMNS).iterator()]
        outbox.publish(
            "links.issued",
            subject=str(batch.id),
            recipients=list(batch.recipients.all()),
            items=items,
            manifest=manifest_writer(batch),
        )
        batch.status, batch.finished_at = Batch.Status.DONE, timezone.now()
        batch.save(update_fields=["status", "finished_at"])


def manifest_writer(batch: Batch) -> Callable[[Sequence[dict[str, Any]]], str]:
    """items -> a link to a CSV of them, stored in the media bucket, living as long as they do."""

    def write(items: Sequence[dict[str, Any]]) -> str:
        body = "".join(csv_pieces({**item, "status": "active"} for item in items)).encode()
        digest = hashlib.sha256(body).hexdigest()[:16]
        key = f"{MANIFEST_PREFIX}{batch.id}/{digest}.csv"
        media_client().put_object(
            Bucket=batch.bucket, Key=key, Body=body, ContentType="text/csv; charset=utf-8"
        )
        return sign(key, batch.expires_in, filename=f"links-{batch.id}.csv").url

    return write
