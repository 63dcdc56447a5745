"""Helpers for the batch tests: wait for a batch, upload many objects."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tasks.models import Batch
from tests.helpers import wait_until


def wait_for_batch(batch_id: uuid.UUID | str, timeout: float = 90) -> Batch:
    """The batch once it is done or failed (the workers run in another process)."""

    def finished() -> Batch | None:
        batch = Batch.objects.get(id=batch_id)
        return batch if batch.status in ("done", "failed") else None

    return wait_until(finished, timeout, interval=0.2)


def upload_many(client: Any, bucket: str, bodies: dict[str, bytes]) -> None:
    def put(item: tuple[str, bytes]) -> None:
        client.put_object(Bucket=bucket, Key=item[0], Body=item[1])

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, bodies.items()))


def unique_prefix(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}/"
