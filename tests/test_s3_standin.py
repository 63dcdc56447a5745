"""bench/s3_standin.py, the S3 stand-in of bench_keepalive.py, answers as S3 (LocalStack) does.

The same synthetic keys are put into LocalStack; HEAD and ListObjectsV2 (prefix, start-after,
continuation, page sizes) get the same answers from both, and the stand-in counts them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bench.s3_standin import synthetic_key

ROOT = Path(__file__).resolve().parents[1]
COUNT = 1300  # folder 00000 full, 00001 with 300 keys


@pytest.fixture(scope="module")
def standin() -> Iterator[tuple[Any, str]]:
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "s3_standin.py"), str(COUNT)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    endpoint = f"http://127.0.0.1:{json.loads(server.stdout.readline())['port']}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    yield client, endpoint
    server.terminate()
    server.wait()


def listed(client: Any, bucket: str, **request: Any) -> list[tuple[list[str], bool]]:
    """Every page of a listing: (keys, truncated)."""
    pages = []
    while True:
        page = client.list_objects_v2(Bucket=bucket, **request)
        pages.append(([item["Key"] for item in page.get("Contents", [])], page["IsTruncated"]))
        if not page["IsTruncated"]:
            return pages
        request = {**request, "ContinuationToken": page["NextContinuationToken"]}
        request.pop("StartAfter", None)


REQUESTS = [
    {"Prefix": "keepalive/00001/"},
    {"Prefix": "keepalive/00001/", "MaxKeys": 100},
    {"Prefix": "keepalive/00000/", "StartAfter": "keepalive/00000/0000498.pd", "MaxKeys": 7},
    {"Prefix": "keepalive/0000", "StartAfter": "keepalive/00000/0000990.pdf", "MaxKeys": 1000},
    {"Prefix": "keepalive/00001/00012", "MaxKeys": 40},
    {"Prefix": "keepalive/00009/"},
    {"Prefix": "keepalive/", "StartAfter": "keepalive/00001/0001299.pdf"},
    {"Prefix": "keepalive/00000/", "MaxKeys": 1},
]


def test_the_standin_lists_and_heads_as_s3_does(standin, s3_server, media_bucket):
    client, endpoint = standin
    keys = [synthetic_key(number) for number in range(COUNT)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3_server.client.put_object(Bucket=media_bucket, Key=key), keys))

    for request in REQUESTS:
        assert listed(client, "any", **request) == listed(
            s3_server.client, media_bucket, **request
        ), request
    for key in [keys[0], keys[999], keys[-1], synthetic_key(COUNT), "keepalive/00001/x.pdf"]:
        assert exists(client, "any", key) == exists(s3_server.client, media_bucket, key), key

    with urllib.request.urlopen(f"{endpoint}/_standin/stats") as response:
        counts = json.load(response)
    assert counts["head"] == 5 and counts["list"] >= len(REQUESTS)


def exists(client: Any, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        assert error.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}
        return False
    return True
