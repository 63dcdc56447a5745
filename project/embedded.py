"""Embedded stand-ins for `make demo`: an S3 emulator (moto) on loopback.

Not for production and not for tests of signatures: moto does not check them.
"""

from __future__ import annotations

import logging
import urllib.request
from urllib.parse import urlsplit


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
            return True
    except OSError as error:
        return getattr(error, "code", None) is not None  # an HTTP error still answers


def start_s3_emulator(endpoint_url: str) -> object | None:
    """Start moto's S3 server at the endpoint unless something answers there already."""
    if answers(endpoint_url):
        return None
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    parts = urlsplit(endpoint_url)
    if parts.hostname not in {"127.0.0.1", "localhost"}:
        raise RuntimeError(f"the embedded S3 emulator only runs on loopback, not {endpoint_url}")
    server = ThreadedMotoServer(ip_address=parts.hostname, port=parts.port or 80, verbose=False)
    server.start()
    return server
