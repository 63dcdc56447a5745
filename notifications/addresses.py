"""Validation of webhook URLs and custom headers (pure; settings passed in or read when used)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from notifications.netguard import Network, PortRange, port_refusal, refusal

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_HEADERS = 20
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-type",
        "content-length",
        "transfer-encoding",
        "connection",
        "user-agent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


class AddressError(ValueError):
    pass


def check_webhook_url(
    url: object, *, allow_http: bool, allowed: list[Network], ports: list[PortRange]
) -> str:
    """An absolute https URL (http when allowed) with a host, an allowed port, no credentials.

    A host written as an IP address is checked against the SSRF guard here already, and the
    port always; names are checked when resolved, at every connection.
    """
    if not isinstance(url, str) or not url.strip():
        raise AddressError("a webhook URL is required")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise AddressError(f"a webhook URL is at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as error:
        raise AddressError(f"not a valid URL: {error}") from None
    schemes = {"https", "http"} if allow_http else {"https"}
    if parts.scheme not in schemes:
        raise AddressError(
            "a webhook URL must use https"
            + ("" if allow_http else " (plain http is allowed only with WEBHOOK_ALLOW_HTTP)")
        )
    if not host:
        raise AddressError("a webhook URL needs a host")
    if parts.username is not None or parts.password is not None:
        raise AddressError("a webhook URL may not carry a user name or password")
    if any(char.isspace() for char in url):
        raise AddressError("a webhook URL may not contain spaces")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None  # a name: checked when resolved, at every connection
    reason = refusal(address, allowed) if address else None
    reason = reason or port_refusal(port or DEFAULT_PORTS[parts.scheme], ports)
    if reason:
        raise AddressError(f"webhook target refused: {reason}")
    return url


def check_headers(headers: Any) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        raise AddressError("headers must be an object of name: value")
    if len(headers) > MAX_HEADERS:
        raise AddressError(f"at most {MAX_HEADERS} custom headers")
    clean: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            raise AddressError(f"{name!r} is not a valid header name")
        if name.lower() in RESERVED_HEADERS:
            raise AddressError(f"the {name} header is set by the sender and cannot be changed")
        if not isinstance(value, str) or len(value) > 1024 or any(c in value for c in "\r\n\0"):
            raise AddressError(f"the {name} header needs a one-line text value (≤ 1024 chars)")
        clean[name] = value
    return clean
