"""SSRF guard: webhooks reach only public addresses, unless a setting allows a network.

The address is checked after resolution and the socket connects to that very address
(then its peer address is checked again), so a second DNS answer cannot switch it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any

from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from notifications import deadline

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata services: named so that the refusal says what they are.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


class BlockedAddressError(Exception):
    """The target resolves to an address webhooks may not reach (a permanent failure)."""


def parse_networks(values: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(value.strip(), strict=False) for value in values]


def refusal(address: IPAddress, allowed: Sequence[Network]) -> str | None:
    """Why `address` may not be reached, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed):
        return None
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    for label, flag in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
    ):
        if flag:
            return f"{address} is a {label} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def allowed_networks() -> list[Network]:
    from django.conf import settings

    return parse_networks(settings.WEBHOOK_ALLOWED_NETWORKS)


def check_host(host: str, port: int) -> list[tuple[socket.AddressFamily, tuple[Any, ...]]]:
    """Resolve `host` once; every answer must be allowed. Returns (family, sockaddr) pairs."""
    allowed = allowed_networks()
    resolved = []
    for family, _type, _proto, _name, sockaddr in socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM
    ):
        reason = refusal(_ip(sockaddr[0]), allowed)
        if reason:
            raise BlockedAddressError(f"refused to connect to {host}: {reason}")
        resolved.append((family, sockaddr))
    return resolved


def _ip(text: object) -> IPAddress:
    return ipaddress.ip_address(str(text).split("%", 1)[0])


def connect_checked(
    host: str, port: int, timeout: float | None, options: Sequence[tuple[Any, ...]] | None
) -> socket.socket:
    """Connect to the first answer that accepts, and check the peer actually connected to."""
    error: OSError | None = None
    for family, sockaddr in check_host(host, port):
        sock = socket.socket(family, socket.SOCK_STREAM)
        deadline.watch(sock, copy=True)  # the attempt's deadline: the connect and all after it
        try:
            for option in options or ():
                sock.setsockopt(*option)
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            reason = refusal(_ip(sock.getpeername()[0]), allowed_networks())
            if reason:
                raise BlockedAddressError(f"refused to connect to {host}: {reason}")
            return sock
        except OSError as caught:
            sock.close()
            error = caught
        except BaseException:
            sock.close()
            raise
    raise error or OSError(f"no address found for {host}")


def guarded_socket(conn: HTTPConnection) -> socket.socket:
    """urllib3's `_new_conn`, with the address checked; errors mapped as urllib3 maps them."""
    try:
        return connect_checked(conn._dns_host, conn.port, conn.timeout, conn.socket_options)
    except socket.gaierror as e:
        raise NameResolutionError(conn.host, conn, e) from e
    except TimeoutError as e:
        raise ConnectTimeoutError(conn, f"connection to {conn.host} timed out") from e
    except OSError as e:
        raise NewConnectionError(conn, f"failed to connect to {conn.host}: {e}") from e


class GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return guarded_socket(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:  # a kept-alive connection: under this attempt's deadline too
            deadline.watch(self.sock)
        super().request(*args, **kwargs)


class GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return guarded_socket(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:
            deadline.watch(self.sock)
        super().request(*args, **kwargs)


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


def guarded_pool_manager(maxsize: int, **options: Any) -> PoolManager:
    """Connections reused per host; every new connection goes through the guard."""
    manager = PoolManager(num_pools=1024, maxsize=maxsize, block=False, **options)
    manager.pool_classes_by_scheme = {
        "http": GuardedHTTPConnectionPool,
        "https": GuardedHTTPSConnectionPool,
    }
    return manager
