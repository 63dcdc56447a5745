"""Small helpers shared by test modules."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings


def download(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=10, **kwargs)


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def tamper_signature(url: str) -> str:
    """Change one character of the X-Amz-Signature value."""
    head, _, signature = url.partition("X-Amz-Signature=")
    assert signature, "not a SigV4 query-signed URL"
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    return head + "X-Amz-Signature=" + flipped


def settings_like(**overrides: Any) -> SimpleNamespace:
    """The settings the signer is built from, with some values changed."""
    names = [name for name in dir(settings) if name.startswith("AWS_")]
    values = {name: getattr(settings, name) for name in names}
    return SimpleNamespace(**{**values, **overrides})


def wait_until(
    check: Callable[[], Any], timeout: float = 30, interval: float = 0.05, what: str = ""
) -> Any:
    """The first truthy value of check(), polled until the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
