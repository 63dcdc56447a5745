"""SigV4QueryPresigner's URLs against a signature-checking S3 (LocalStack).

Every URL is sent to the LocalStack endpoint with the Host header the URL
names, as a client that resolved that host would: LocalStack serves
``s3.amazonaws.com``-style hosts, virtual-hosted or not, and checks the
signature for each. https URLs are sent over plain http; the scheme is not
part of the signature. http.client is used so nothing normalises the path.
"""

from __future__ import annotations

import http.client
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest

from signing.sigv4 import Credentials, SigV4QueryPresigner
from tests.conftest import S3Server
from tests.services.localstack import endpoint

pytestmark = pytest.mark.s3

LOCALSTACK_URL = endpoint()
S3_SERVER = "<the s3_server endpoint>"  # stands for s3_server.endpoint_url in PLACES


class Place(NamedTuple):
    region: str
    endpoint_url: str | None
    style: str
    virtual: bool  # the bucket ends up in the host name


PLACES = {
    "localstack path": Place("us-east-1", S3_SERVER, "path", False),
    "localstack auto (path)": Place("us-east-1", S3_SERVER, "auto", False),
    "IP endpoint, virtual (path)": Place("us-east-1", LOCALSTACK_URL, "virtual", False),
    "custom endpoint virtual": Place(
        "us-east-1", "http://s3.localhost.localstack.cloud:4566", "virtual", True
    ),
    "custom endpoint without port": Place(
        "us-east-1", "https://s3.localhost.localstack.cloud", "virtual", True
    ),
    "custom endpoint, default port written": Place(
        "us-east-1", "http://s3.localhost.localstack.cloud:80", "path", False
    ),
    "aws us-east-1 auto (global virtual)": Place("us-east-1", None, "auto", True),
    "aws us-east-1 path (s3.amazonaws.com)": Place("us-east-1", None, "path", False),
    "aws eu-west-1 auto (global host)": Place("eu-west-1", None, "auto", True),
    "aws eu-west-1 virtual": Place("eu-west-1", None, "virtual", True),
    "aws eu-west-1 path": Place("eu-west-1", None, "path", False),
    "aws ap-southeast-2 virtual": Place("ap-southeast-2", None, "virtual", True),
    "aws us-gov-west-1 auto": Place("us-gov-west-1", None, "auto", True),
    "aws cn-north-1 path": Place("cn-north-1", None, "path", False),
}

KEYS = [
    "plain.txt",
    "with space/and more.pdf",
    "a+b%20c~d",
    "#hash?query=1&x=y=z",
    "emoji 😀/ファイル名.pdf",
    "日本語/テスト.txt",
    "é~ü",
    "a//repeated///slashes",
    "/leading-slash",
    "//two-leading",
    "..",
    "./a/../b",
]
# LocalStack rebuilds a virtual-hosted presigned request from a path it has
# already collapsed ("//a" -> "/a"), so it refuses keys that start with "/"
# there; header-signed requests for the same keys work, and the URLs are
# byte-identical to botocore's (test_sigv4_identical).
LOCALSTACK_COLLAPSES = ("/",)

TOKEN = "FQoGZXIvYXdzEJr//////////wEaDOpaque+session/token=="


class Response(NamedTuple):
    status: int
    body: bytes
    headers: dict[str, str]


def fetch(s3_server: S3Server, url: str) -> Response:
    """GET the URL from the S3 server, with the Host header the URL names."""
    server = urlsplit(s3_server.endpoint_url)
    target = urlsplit(url)
    default_port = {"http": 80, "https": 443}[target.scheme]
    host = target.hostname or ""
    if target.port not in (None, default_port):
        host = f"{host}:{target.port}"
    connection = http.client.HTTPConnection(server.hostname or "", server.port, timeout=15)
    try:
        connection.request("GET", f"{target.path}?{target.query}", headers={"Host": host})
        reply = connection.getresponse()
        return Response(reply.status, reply.read(), {k.lower(): v for k, v in reply.getheaders()})
    finally:
        connection.close()


@dataclass
class Objects:
    bucket: str
    dotted_bucket: str
    bodies: dict[str, bytes]


@pytest.fixture(scope="module")
def objects(s3_server: S3Server) -> Iterator[Objects]:
    bucket = s3_server.make_bucket("presign")
    dotted = s3_server.make_bucket("presign.dotted")
    bodies = {key: f"body of {key!r}".encode() + uuid.uuid4().bytes for key in KEYS}
    for name in (bucket, dotted):
        for key, body in bodies.items():
            s3_server.client.put_object(Bucket=name, Key=key, Body=body)
    yield Objects(bucket, dotted, bodies)
    for name in (bucket, dotted):
        for key in bodies:
            s3_server.client.delete_object(Bucket=name, Key=key)
        s3_server.client.delete_bucket(Bucket=name)


def credentials(s3_server: S3Server, token: str | None = None) -> Credentials:
    return Credentials(s3_server.access_key, s3_server.secret_key, token)


def sign(s3_server: S3Server, place: Place, bucket: str, key: str, **kwargs: Any) -> str:
    endpoint_url = s3_server.endpoint_url if place.endpoint_url == S3_SERVER else place.endpoint_url
    presigner = SigV4QueryPresigner(
        region=place.region,
        endpoint_url=endpoint_url,
        addressing_style=place.style,
        match_crt=kwargs.pop("match_crt", False),
    )
    assert presigner.can_presign(bucket)
    kwargs.setdefault("expires_in", 300)
    kwargs.setdefault("credentials", credentials(s3_server))
    return presigner.presign_get(bucket, key, **kwargs)


def tamper_signature(url: str) -> str:
    last = url[-1]
    return url[:-1] + ("0" if last != "0" else "1")


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("place", PLACES.values(), ids=PLACES.keys())
def test_downloads_the_right_bytes(
    s3_server: S3Server, objects: Objects, place: Place, key: str
) -> None:
    if place.virtual and key.startswith(LOCALSTACK_COLLAPSES):
        pytest.skip("LocalStack collapses leading slashes of virtual-hosted presigned requests")
    url = sign(s3_server, place, objects.bucket, key)
    assert (urlsplit(url).hostname or "").startswith(objects.bucket) == place.virtual
    response = fetch(s3_server, url)
    assert (response.status, response.body) == (200, objects.bodies[key])


@pytest.mark.parametrize("place", PLACES.values(), ids=PLACES.keys())
def test_tampered_urls_are_refused(s3_server: S3Server, objects: Objects, place: Place) -> None:
    key, other_key = "with space/and more.pdf", "plain.txt"
    url = sign(s3_server, place, objects.bucket, key)
    assert fetch(s3_server, url).status == 200
    tampered = {
        "signature": tamper_signature(url),
        "key": url.replace("with%20space/and%20more.pdf", other_key, 1),
        "expiry": url.replace("X-Amz-Expires=300", "X-Amz-Expires=301", 1),
    }
    for what, bad_url in tampered.items():
        assert bad_url != url, what
        assert fetch(s3_server, bad_url).status == 403, what


@pytest.mark.parametrize("match_crt", [False, True], ids=["python-order", "crt-order"])
@pytest.mark.parametrize(
    "place",
    [PLACES["localstack path"], PLACES["aws eu-west-1 auto (global host)"]],
    ids=["localstack path", "aws global host"],
)
def test_session_token(
    s3_server: S3Server, objects: Objects, place: Place, match_crt: bool
) -> None:
    creds = credentials(s3_server, TOKEN)
    url = sign(
        s3_server, place, objects.bucket, "plain.txt", credentials=creds, match_crt=match_crt
    )
    assert "X-Amz-Security-Token=" in url
    assert fetch(s3_server, url).body == objects.bodies["plain.txt"]
    assert fetch(s3_server, tamper_signature(url)).status == 403


@pytest.mark.parametrize("place", PLACES.values(), ids=PLACES.keys())
def test_response_overrides(s3_server: S3Server, objects: Objects, place: Place) -> None:
    disposition = "attachment; filename=\"a b.pdf\"; filename*=UTF-8''%C3%A9t%C3%A9.pdf"
    params = {"ResponseContentDisposition": disposition, "ResponseContentType": "application/pdf"}
    url = sign(s3_server, place, objects.bucket, "emoji 😀/ファイル名.pdf", params=params)
    response = fetch(s3_server, url)
    assert response.status == 200
    assert response.body == objects.bodies["emoji 😀/ファイル名.pdf"]
    assert response.headers["content-disposition"] == disposition
    assert response.headers["content-type"] == "application/pdf"
    changed = url.replace("application%2Fpdf", "text%2Fhtml", 1)
    assert fetch(s3_server, changed).status == 403


@pytest.mark.parametrize(
    "place",
    [PLACES["aws eu-west-1 auto (global host)"], PLACES["localstack path"]],
    ids=["dotted bucket, regional path", "dotted bucket, localstack path"],
)
def test_dotted_bucket(s3_server: S3Server, objects: Objects, place: Place) -> None:
    url = sign(s3_server, place, objects.dotted_bucket, "a+b%20c~d")
    assert f"/{objects.dotted_bucket}/" in url
    assert fetch(s3_server, url).body == objects.bodies["a+b%20c~d"]


def test_ttl_limits(s3_server: S3Server, objects: Objects) -> None:
    place = PLACES["localstack path"]
    week = sign(s3_server, place, objects.bucket, "plain.txt", expires_in=604800)
    assert fetch(s3_server, week).status == 200
    while time.time() % 1 > 0.3:  # start early in a second: a 1 s link lives 1-2 s
        time.sleep(0.05)
    second = sign(s3_server, place, objects.bucket, "plain.txt", expires_in=1)
    assert fetch(s3_server, second).status == 200


def test_expired_and_wrong_secret_are_refused(s3_server: S3Server, objects: Objects) -> None:
    place = PLACES["aws us-east-1 auto (global virtual)"]
    expired = sign(
        s3_server,
        place,
        objects.bucket,
        "plain.txt",
        expires_in=60,
        now=datetime.now(UTC) - timedelta(minutes=5),
    )
    assert fetch(s3_server, expired).status == 403
    wrong = sign(
        s3_server,
        place,
        objects.bucket,
        "plain.txt",
        credentials=Credentials(s3_server.access_key, "not-the-secret"),
    )
    assert fetch(s3_server, wrong).status == 403
