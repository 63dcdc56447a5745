"""Manifests in the bucket (`_linkdist/manifests/<batch id>/…`) that belong to one batch."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from media.clients import media_client
from tasks.events.handover import MANIFEST_PREFIX
from tasks.models import Batch


def prefix_of(batch: Batch) -> str:
    return f"{MANIFEST_PREFIX}{batch.id}/"


def keys_of(client: Any, batch: Batch) -> list[str]:
    """Every manifest key of the batch (none when its bucket is gone)."""
    keys: list[str] = []
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=batch.bucket, Prefix=prefix_of(batch)
    )
    try:
        for page in pages:
            keys += [item["Key"] for item in page.get("Contents", [])]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchBucket":
            return []
        raise
    return keys


def delete_manifests(batch: Batch, client: Any | None = None) -> int:
    """Delete the batch's manifests; the number deleted. Raises when the bucket refuses any."""
    client = client or media_client()
    keys = keys_of(client, batch)
    for start in range(0, len(keys), 1000):  # DeleteObjects takes up to 1,000 keys
        objects = [{"Key": key} for key in keys[start : start + 1000]]
        answer = client.delete_objects(
            Bucket=batch.bucket, Delete={"Objects": objects, "Quiet": True}
        )
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise RuntimeError(f"{len(answer['Errors'])} not deleted, e.g. {first.get('Code')}")
    return len(keys)
