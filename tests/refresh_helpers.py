"""Helpers for the refresh tests: links issued in-process through the real chunk path."""

from __future__ import annotations

import json
from typing import Any

from notifications.models import Delivery
from tasks.batches import chunks
from tasks.batches.issuing import create_batch
from tasks.batches.spec import BatchRequest
from tasks.events import handover
from tasks.models import Batch


def issue_in_process(keys: list[str], **request: Any) -> Batch:
    """create_batch, then its chunks signed and handed over here (no worker, no broker)."""
    batch = create_batch(BatchRequest(keys=keys, **request)).batch
    for chunk_id in batch.chunks.values_list("id", flat=True):
        chunks.sign_chunk(chunk_id)
    handover.hand_over(batch.id)
    batch.refresh_from_db()
    return batch


def event_links(batch: Batch, event_type: str) -> list[dict[str, Any]]:
    """The links carried by this batch's webhook deliveries of one event type."""
    deliveries = Delivery.objects.filter(subject=str(batch.id), event_type=event_type)
    links = []
    for delivery in deliveries.order_by("created_at", "part"):
        links += json.loads(delivery.payload)["data"]["links"]
    return links
