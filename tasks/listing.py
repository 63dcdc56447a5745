"""What the media bucket holds: paginated listing of a prefix and per-key existence (S3 I/O)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

PAGE_SIZE = 1000  # ListObjectsV2's maximum
HEAD_THREADS = 8  # under botocore's default pool of 10 connections


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


def exists(client: Any, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def missing_keys(client: Any, bucket: str, keys: Sequence[str]) -> set[str]:
    """The keys with no object, by a HEAD per key on a few threads (boto3 clients are shareable)."""
    with ThreadPoolExecutor(max_workers=HEAD_THREADS) as pool:
        found = list(pool.map(lambda key: exists(client, bucket, key), keys))
    return {key for key, present in zip(keys, found, strict=True) if not present}
