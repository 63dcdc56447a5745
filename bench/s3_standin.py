"""A local S3 stand-in for bench_keepalive.py: HEAD and ListObjectsV2 over a synthetic key set.

    python bench/s3_standin.py COUNT [--delay-ms 0]

Holds the keys `synthetic_key(0)` … `synthetic_key(COUNT - 1)` (folders of 1,000 keys, in
S3's listing order) without storing them, answers path-style requests on a free loopback
port (printed as one JSON line on stdout: {"port": …}) and counts what it is asked:

- `HEAD /bucket/key`: 200 with the object's headers when the key is in the set, else 404;
- `GET /bucket?list-type=2` with prefix, start-after, continuation-token, max-keys (≤ 1,000):
  a ListObjectsV2 page, as S3 answers it (no delimiters: the refresher never sends one);
- `HEAD /bucket`, `GET /bucket?location`: what botocore may ask before it starts;
- `GET /_standin/stats`: the counts so far, as JSON ({"head": …, "list": …, "other": …}).

Signatures are not checked (LocalStack does that in the tests; it cannot hold a million
objects here). --delay-ms slows every S3 answer, as a distant or loaded S3 would.
"""

from __future__ import annotations

import argparse
import bisect
import json
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import overload
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

FOLDER_SIZE = 1000
KEY = re.compile(r"keepalive/(\d{5})/(\d{7})\.pdf")
MODIFIED = "2026-01-01T00:00:00.000Z"
ETAG = '"0cc175b9c0f1b6a831c399e269772661"'
NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"


def synthetic_key(number: int) -> str:
    """The number-th key of the set: zero-padded, so that their order is S3's (byte order)."""
    return f"keepalive/{number // FOLDER_SIZE:05d}/{number:07d}.pdf"


class SyntheticKeys(Sequence[str]):
    """The sorted key set as a sequence (bisect works on it), computed, never stored."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [synthetic_key(n) for n in range(self.count)[index]]
        if not 0 <= index < self.count:
            raise IndexError(index)
        return synthetic_key(index)

    def __contains__(self, key: object) -> bool:
        match = KEY.fullmatch(key) if isinstance(key, str) else None
        if match is None:
            return False
        number = int(match.group(2))
        return number < self.count and number // FOLDER_SIZE == int(match.group(1))

    def page(self, prefix: str, after: str, limit: int) -> tuple[list[str], bool]:
        """Up to `limit` keys under `prefix` that sort after `after`; (keys, truncated)."""
        start = max(bisect.bisect_right(self, after), bisect.bisect_left(self, prefix))
        keys: list[str] = []
        for number in range(start, self.count):
            key = synthetic_key(number)
            if not key.startswith(prefix):
                return keys, False
            if len(keys) == limit:
                return keys, True
            keys.append(key)
        return keys, False


def list_page_xml(bucket: str, query: dict[str, str], keys: SyntheticKeys) -> str:
    prefix = query.get("prefix", "")
    token = query.get("continuation-token")
    after = token if token is not None else query.get("start-after", "")
    limit = max(0, min(int(query.get("max-keys", "1000")), 1000))
    found, truncated = keys.page(prefix, after, limit)
    contents = "".join(
        f"<Contents><Key>{escape(key)}</Key><LastModified>{MODIFIED}</LastModified>"
        f"<ETag>{escape(ETAG)}</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass>"
        "</Contents>"
        for key in found
    )
    extra = ""
    if truncated:
        extra += f"<NextContinuationToken>{escape(found[-1])}</NextContinuationToken>"
    if token is not None:
        extra += f"<ContinuationToken>{escape(token)}</ContinuationToken>"
    if "start-after" in query:
        extra += f"<StartAfter>{escape(query['start-after'])}</StartAfter>"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{NAMESPACE}">'
        f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>"
        f"<KeyCount>{len(found)}</KeyCount><MaxKeys>{limit}</MaxKeys>"
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{contents}{extra}"
        "</ListBucketResult>"
    )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    keys: SyntheticKeys
    delay: float = 0.0
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def count(self, kind: str) -> None:
        with self.lock:
            self.counts[kind] += 1
        if self.delay:
            time.sleep(self.delay)

    def answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def target(self) -> tuple[str, str, dict[str, str]]:
        parts = urlsplit(self.path)
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        query = {name: values[0] for name, values in parse_qs(parts.query, True).items()}
        return bucket, key, query

    def do_HEAD(self) -> None:
        _, key, _ = self.target()
        if not key:
            self.count("other")
            self.answer(200)
            return
        self.count("head")
        if key in self.keys:
            headers = {"ETag": ETAG, "Last-Modified": "Thu, 01 Jan 2026 00:00:00 GMT"}
            self.send_response(200)
            for name, value in {**headers, "Content-Type": "application/pdf"}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "1")
            self.end_headers()
        else:
            self.answer(404)

    def do_GET(self) -> None:
        if self.path == "/_standin/stats":
            with self.lock:
                body = json.dumps(dict(self.counts)).encode()
            self.answer(200, body, {"Content-Type": "application/json"})
            return
        bucket, key, query = self.target()
        xml = {"Content-Type": "application/xml"}
        if not key and query.get("list-type") == "2":
            self.count("list")
            self.answer(200, list_page_xml(bucket, query, self.keys).encode(), xml)
        elif not key and "location" in query:
            self.count("other")
            body = f'<LocationConstraint xmlns="{NAMESPACE}"></LocationConstraint>'
            self.answer(200, body.encode(), xml)
        else:
            self.count("other")
            self.answer(501, b"<Error><Code>NotImplemented</Code></Error>", xml)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("count", type=int)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    Handler.keys = SyntheticKeys(args.count)
    Handler.delay = args.delay_ms / 1000
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
