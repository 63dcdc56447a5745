"""Existence checks by listing give the answers a HEAD per key gives, at ~1 LIST per 1,000 dense
keys (against LocalStack, requests counted with botocore's event hooks)."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import botocore.session
import pytest
from botocore.exceptions import ClientError

from media import existence
from media.clients import boto_session, keys_only, s3_client
from media.existence import exists, missing_keys, plan
from signing.target import BucketTarget, media_target

pytestmark = [pytest.mark.s3]


@pytest.fixture(params=["plain", "keys-only"])
def client(request, s3_server):
    """A plain client, and one like media.clients.existence_client (what the refresh and the
    issue checks use: listing pages read for their keys alone): the answers must not differ."""
    if request.param == "plain":
        return s3_server.client
    from django.conf import settings

    return s3_client(keys_only(boto_session(settings)), media_target(settings))


class Requests:
    """Counts the S3 operations a client sends."""

    def __init__(self, client) -> None:
        self.seen: Counter[str] = Counter()
        client.meta.events.register("before-call.s3", self.count)

    def count(self, model, **kwargs) -> None:
        self.seen[model.name] += 1


def put_many(client, bucket: str, keys: list[str]) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=bucket, Key=key, Body=b"x"), keys))


def by_head(client, bucket: str, keys: list[str]) -> set[str]:
    return {key for key in keys if not exists(client, bucket, key)}


def test_plan_lists_dense_folders_and_heads_lone_keys():
    keys = ["a/3", "a/1", "a/2", "b/only", "c/x", "c/y", "a/1"]
    runs, singles = plan(keys)
    assert runs == [["a/1", "a/2", "a/3"]]
    assert sorted(singles) == ["b/only", "c/x", "c/y"]


def test_same_answers_as_head_for_tricky_keys(s3_server, client):
    bucket = s3_server.make_bucket("exist")
    stored = [
        "d/a",
        "d/ab",  # "d/a" is a prefix of it
        "d/a/b",  # and of this, in a sub-folder
        "d/a.txt",
        "d/é-ünïcode.txt",
        "d/日本語/ファイル.pdf",
        "d/日本語/b",
        "d/日本語/c",
        "d/space key+plus&amp.txt",
        "d/z",
    ]
    deleted = ["d/ab", "d/日本語/b"]
    never = ["d/a/", "d/aa", "d/é", "d/日本語/ファイル", "d/zz", "d/0"]
    put_many(client, bucket, stored)
    client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in deleted]})
    asked = stored + never

    assert missing_keys(client, bucket, asked) == by_head(client, bucket, asked)
    assert missing_keys(client, bucket, asked) == set(deleted + never)


def test_delete_markers_of_a_versioned_bucket_are_missing(s3_server, client):
    bucket = s3_server.make_bucket("versioned")
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    keys = [f"v/{n:03d}.bin" for n in range(20)]
    put_many(client, bucket, keys)
    put_many(client, bucket, keys[:5])  # older versions under the current ones
    for key in keys[10:15]:
        client.delete_object(Bucket=bucket, Key=key)  # a delete marker on top
    markers = client.list_object_versions(Bucket=bucket, Prefix="v/").get("DeleteMarkers", [])
    assert {marker["Key"] for marker in markers} == set(keys[10:15])

    assert missing_keys(client, bucket, keys) == set(keys[10:15]) == by_head(client, bucket, keys)


def test_dense_keys_cost_one_list_per_thousand(s3_server, client):
    bucket = s3_server.make_bucket("dense")
    keys = [f"reports/2026/file-{n:05d}.pdf" for n in range(3000)]
    put_many(client, bucket, keys)
    put_many(client, bucket, [f"reports/2025/old-{n}.pdf" for n in range(50)])
    gone = keys[::97]
    client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in gone]})
    requests = Requests(client)

    asked = keys[:2000]  # a chunk of 2,000 due links, shuffled as the database returns them
    found = missing_keys(client, bucket, list(reversed(asked)))

    assert found == {key for key in gone if key in set(asked)}
    assert requests.seen == {"ListObjectsV2": 2}


def test_sparse_keys_fall_back_to_heads(s3_server, monkeypatch):
    client = s3_server.client
    bucket = s3_server.make_bucket("sparse")
    keys = [f"big/{n:05d}" for n in range(1200)]
    put_many(client, bucket, keys)
    asked = [*keys[::200], "big/missing", "lone/key"]  # 6 of 1,200 in one folder, and a lone one
    monkeypatch.setattr(existence, "PAGE_SIZE", 100)
    requests = Requests(client)

    assert missing_keys(client, bucket, asked) == {"big/missing", "lone/key"}
    # a short first page (2 × 7 objects, 1 ours), a page of 100 with none ours (sparse), then a
    # HEAD per key left
    assert requests.seen["ListObjectsV2"] == 2
    assert requests.seen["HeadObject"] == len(asked) - 1


LISTING = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/'
    b'doc/2006-03-01/"><Name>media</Name><Prefix>f/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000'
    b"</MaxKeys><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated><Contents><Key>"
    b"f/a</Key><Size>1</Size></Contents><Contents><Key>f/b</Key><Size>1</Size></Contents>"
    b"</ListBucketResult>"
)
ERROR_IN_A_200 = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>"
)


class ListingServer(http.server.ThreadingHTTPServer):
    """Answers every listing with 200 and the same body, and counts them."""

    def __init__(self, body: bytes) -> None:
        self.body, self.listings = body, 0
        super().__init__(("127.0.0.1", 0), ListingHandler)


class ListingHandler(http.server.BaseHTTPRequestHandler):
    server: ListingServer

    def do_GET(self) -> None:
        self.server.listings += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def answering(body: bytes) -> Iterator[ListingServer]:
    server = ListingServer(body)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def listing_client(session, server: ListingServer):
    session.set_credentials("AKIDEXAMPLE", "secret")
    target = BucketTarget("media", "us-east-1", f"http://127.0.0.1:{server.server_port}", "path")
    return s3_client(session, target, retries={"max_attempts": 3, "mode": "standard"})


@pytest.fixture(params=["plain", "keys-only"])
def session(request):
    """A plain session, and one like media.clients.existence_client's: S3's error answers
    must be seen alike."""
    plain = botocore.session.get_session()
    return plain if request.param == "plain" else keys_only(plain)


@pytest.mark.parametrize("body", [ERROR_IN_A_200, LISTING[:200]], ids=["error", "cut-short"])
def test_a_200_that_is_an_error_or_cut_short_is_retried_then_raised(session, body):
    with answering(body) as server, pytest.raises(ClientError) as raised:
        listing_client(session, server).list_objects_v2(Bucket="media", Prefix="f/")
    assert server.listings > 1  # retried as a 500
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_a_whole_listing_gives_its_keys(session):
    with answering(LISTING) as server:
        page = listing_client(session, server).list_objects_v2(Bucket="media", Prefix="f/")
    assert [item["Key"] for item in page["Contents"]] == ["f/a", "f/b"]
    assert server.listings == 1
