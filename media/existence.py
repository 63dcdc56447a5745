"""Which of many keys have an object: ListObjectsV2 over runs of dense keys, HEAD for the rest.

`missing_keys(client, bucket, keys) -> set[str]` is the one entry point (refresh passes and
`check_existence` batches at issue). It answers as a HEAD per key would (a delete-marked key
of a versioned bucket is missing: ListObjectsV2 lists no delete markers, HEAD answers 404), at
about one request per 1,000 dense keys:

- the keys are sorted (S3 lists in UTF-8 byte order, the same as Python's code-point order)
  and grouped by folder (the part before the last `/`); a folder with at least LIST_MIN_KEYS
  of them is a run, listed from just before its first key to its last, under the run's
  longest common prefix. The first page asks for about as many objects as the run spans
  (twice its keys); later pages for 1,000;
- a run that turns out sparse (a page where fewer than 1 in SPARSE_RATIO of the objects listed
  are ours: the folder holds many other objects) stops listing, and its keys not reached yet
  are HEADed, as are the keys of small folders. A LIST page costs about what SPARSE_RATIO
  HEADs on HEAD_THREADS threads cost, so neither path is much worse than the other;
- a bucket policy that denies listing (AccessDenied) makes the run fall back to HEADs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # ListObjectsV2's maximum
HEAD_THREADS = 8  # under botocore's default pool of 10 connections
LIST_MIN_KEYS = 3  # fewer keys in one folder: a HEAD each
SPARSE_RATIO = 16  # a page with fewer than 1 in this many objects ours: HEAD the rest
NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


@dataclass
class Listed:
    """What listing a run found: its present keys, and those left to HEAD (listing stopped)."""

    present: set[str] = field(default_factory=set)
    unresolved: list[str] = field(default_factory=list)
    requests: int = 0


def folder(key: str) -> str:
    return key.rpartition("/")[0]


def common_prefix(keys: Sequence[str]) -> str:
    """The longest common prefix of sorted keys (that of the first and the last)."""
    first, last = keys[0], keys[-1]
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def plan(keys: Iterable[str]) -> tuple[list[list[str]], list[str]]:
    """(runs to list, each sorted; keys to HEAD), from the keys alone (pure)."""
    by_folder: dict[str, list[str]] = defaultdict(list)
    for key in sorted(set(keys)):
        by_folder[folder(key)].append(key)
    runs = [group for group in by_folder.values() if len(group) >= LIST_MIN_KEYS]
    singles = [key for group in by_folder.values() if len(group) < LIST_MIN_KEYS for key in group]
    return runs, singles


def first_request(run: Sequence[str], prefix: str) -> dict[str, Any]:
    """ListObjectsV2 arguments that start at the run's first key (StartAfter is exclusive: the
    key less its last character sorts before it and after nothing of the run)."""
    request: dict[str, Any] = {"Prefix": prefix, "MaxKeys": min(PAGE_SIZE, 2 * len(run))}
    start = run[0][:-1]
    if start.startswith(prefix) and len(start) > len(prefix):
        request["StartAfter"] = start
    return request


def sparse(ours: int, listed: int) -> bool:
    return ours * SPARSE_RATIO < listed


def list_run(client: Any, bucket: str, run: Sequence[str]) -> Listed:
    """Walk the listing from the run's first key to its last (S3 I/O)."""
    wanted, last = set(run), run[-1]
    result = Listed()
    request = first_request(run, common_prefix(run))
    while True:
        try:
            page = client.list_objects_v2(Bucket=bucket, **request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "AccessDenied":
                raise
            log.warning("existence: listing %s is denied; a HEAD per key instead", bucket)
            return Listed(set(), list(run), result.requests + 1)
        result.requests += 1
        listed = [item["Key"] for item in page.get("Contents", [])]
        ours = wanted.intersection(listed)
        result.present |= ours
        reached = listed[-1] if listed else last
        if reached >= last or not page.get("IsTruncated"):
            return result
        if sparse(len(ours), len(listed)):
            result.unresolved = [key for key in run if key > reached]
            return result
        request = {
            "Prefix": request["Prefix"],
            "MaxKeys": PAGE_SIZE,
            "ContinuationToken": page["NextContinuationToken"],
        }


def exists(client: Any, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in NOT_FOUND:
            return False
        raise
    return True


def missing_keys(client: Any, bucket: str, keys: Sequence[str]) -> set[str]:
    """The keys among these with no (current, not delete-marked) object in the bucket.

    Same answers as a HEAD per key; dense keys cost about one ListObjectsV2 request per 1,000,
    sparse ones a HEAD each, on HEAD_THREADS threads (boto3 clients are shareable).
    """
    runs, to_head = plan(keys)
    with ThreadPoolExecutor(max_workers=HEAD_THREADS) as pool:
        present: set[str] = set()
        for listed in pool.map(lambda run: list_run(client, bucket, run), runs):
            present |= listed.present
            to_head.extend(listed.unresolved)
        found = list(pool.map(lambda key: exists(client, bucket, key), to_head))
    present.update(key for key, there in zip(to_head, found, strict=True) if there)
    return set(keys) - present
