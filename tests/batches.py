"""Helpers for the batch tests: wait for a batch, upload many objects."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tasks.models import Batch


def wait_until(check: Callable[[], Any], timeout: float = 60, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout} s: {check}")


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
