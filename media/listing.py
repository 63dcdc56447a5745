"""What the media bucket holds under a prefix: paginated listing (S3 I/O). Per-key existence:
media/existence.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

PAGE_SIZE = 1000  # ListObjectsV2's maximum


def list_entries(
    client: Any, bucket: str, prefix: str, page_size: int = PAGE_SIZE
) -> Iterator[list[tuple[str, datetime]]]:
    """(key, LastModified) of the objects under a prefix, one ListObjectsV2 page at a time."""
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
    )
    for page in pages:
        yield [(item["Key"], item["LastModified"]) for item in page.get("Contents", [])]


def list_pages(
    client: Any, bucket: str, prefix: str, page_size: int = PAGE_SIZE
) -> Iterator[list[str]]:
    """The keys under a prefix, one ListObjectsV2 page at a time, however many pages."""
    for entries in list_entries(client, bucket, prefix, page_size):
        yield [key for key, _ in entries]


def has_objects(client: Any, bucket: str, prefix: str) -> bool:
    response = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    return bool(response.get("KeyCount") or response.get("Contents"))
