"""The client's address, behind reverse proxies the operator names (TRUSTED_PROXIES).

X-Forwarded-For is what the client wrote, with each proxy's append on the right. It is read
only when the request comes from a trusted proxy (REMOTE_ADDR inside TRUSTED_PROXIES, as
gunicorn's forwarded_allow_ips): walking it from the right, the first address that is not a
trusted proxy is the client. Entries further left are the client's own writing and never
count. By default no proxy is trusted: REMOTE_ADDR is the client, whatever the headers say.

A request that carries forwarding headers but does not come from a trusted proxy went
through a proxy nobody named (or forged them): `via_unknown_proxy` tells, so that a rule
that trusts an address (the /metrics network rule) does not trust the proxy's instead.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


@functools.lru_cache(maxsize=16)
def networks_of(values: tuple[str, ...]) -> tuple[Network, ...]:
    """A setting's networks, parsed once per value, not on every request or connection."""
    return parse_networks(values)


def is_in(address: str, networks: Sequence[Network]) -> bool:
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return any(parsed in network for network in networks)


def client_address(meta: dict[str, Any], trusted: Sequence[Network]) -> str:
    """REMOTE_ADDR, or (from a trusted proxy) the nearest untrusted X-Forwarded-For entry."""
    remote = str(meta.get("REMOTE_ADDR") or "")
    if not trusted or not is_in(remote, trusted):
        return remote
    hops = [part.strip() for part in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if not is_in(hop, trusted):
            return hop
    return hops[0] if hops else remote


def via_unknown_proxy(meta: dict[str, Any], trusted: Sequence[Network]) -> bool:
    """Forwarding headers from an address that is no trusted proxy."""
    forwarded = any(meta.get(header) for header in FORWARDING_HEADERS)
    return forwarded and not is_in(str(meta.get("REMOTE_ADDR") or ""), trusted)
