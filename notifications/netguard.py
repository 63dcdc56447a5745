"""SSRF guard: webhooks reach only public addresses on allowed ports, unless a setting allows
a network.

The address is checked after resolution and the socket connects to that very address
(then its peer address is checked again), so a second DNS answer cannot switch it.
An IPv6 address that carries an IPv4 address (IPv4-mapped or -compatible, NAT64, 6to4,
Teredo) is judged by that IPv4 address too. Cloud metadata addresses are refused whatever
the allow-list says.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator, Sequence
from typing import Any

from django.conf import settings
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from common.clientaddr import networks_of
from notifications import deadline
from notifications.lowwater import LowWaterResponse

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PortRange = tuple[int, int]  # (lowest, highest), both allowed

# Cloud metadata and credential services: never reachable, even inside an allowed network.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean instance metadata
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "169.254.170.23",  # AWS EKS Pod Identity agent
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity agent over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
        "192.0.0.192",  # Oracle Cloud metadata
        "168.63.129.16",  # Azure WireServer
    )
)
WELL_KNOWN_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 in the last 32 bits
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: the translator picks the layout
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d
RFC6052_LENGTHS = (48, 56, 64, 96)  # where a prefix inside LOCAL_NAT64 may put the IPv4 address


class BlockedAddressError(Exception):
    """The target resolves to an address webhooks may not reach (a permanent failure)."""


def rfc6052_ipv4(address: ipaddress.IPv6Address, prefix_length: int) -> ipaddress.IPv4Address:
    """The IPv4 address an RFC 6052 translator with this prefix length reads (skips bits 64-71)."""
    packed = address.packed
    if prefix_length == 96:
        return ipaddress.IPv4Address(packed[12:16])
    start = prefix_length // 8
    return ipaddress.IPv4Address((packed[:8] + packed[9:])[start : start + 4])


def embedded_ipv4(address: IPAddress) -> Iterator[tuple[str, ipaddress.IPv4Address]]:
    """(form, IPv4 address) for each IPv4 address an IPv6 address carries."""
    if not isinstance(address, ipaddress.IPv6Address):
        return
    if address in WELL_KNOWN_NAT64:
        yield "NAT64", rfc6052_ipv4(address, 96)
    if address in LOCAL_NAT64:
        for length in RFC6052_LENGTHS:
            yield "local-use NAT64", rfc6052_ipv4(address, length)
    if address.sixtofour is not None:
        yield "6to4", address.sixtofour
    if address.teredo is not None:
        server, client = address.teredo
        yield "Teredo server", server
        yield "Teredo client", client
    if address in IPV4_COMPATIBLE and int(address) > 1:
        yield "IPv4-compatible", ipaddress.IPv4Address(int(address))


def metadata_refusal(address: IPAddress) -> str | None:
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    for form, inner in embedded_ipv4(address):
        if inner in METADATA_ADDRESSES:
            return f"{address} carries the cloud metadata address {inner} ({form})"
    return None


def refusal(address: IPAddress, allowed: Sequence[Network]) -> str | None:
    """Why `address` may not be reached, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    reason = metadata_refusal(address)
    if reason:
        return reason
    is_allowed = any(address in network for network in allowed)
    if address in LOCAL_NAT64:  # the operator who allows its prefix knows the layout
        return None if is_allowed else _LOCAL_NAT64_REFUSAL.format(address)
    for form, inner in embedded_ipv4(address):
        inner_reason = refusal(inner, allowed)
        if inner_reason:
            return f"{address} carries {inner} ({form}): {inner_reason}"
    return None if is_allowed else _kind_refusal(address)


_LOCAL_NAT64_REFUSAL = (
    "{} is a local-use NAT64 address: where it carries an IPv4 address depends on the "
    "local translator (WEBHOOK_ALLOWED_NETWORKS may list its prefix)"
)


def _kind_refusal(address: IPAddress) -> str | None:
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


def port_refusal(port: int, allowed: Sequence[PortRange]) -> str | None:
    """Why `port` may not be reached, or None when it may."""
    if any(low <= port <= high for low, high in allowed):
        return None
    return f"port {port} is not an allowed webhook port (WEBHOOK_ALLOWED_PORTS)"


def allowed_ports() -> list[PortRange]:
    return list(settings.WEBHOOK_ALLOWED_PORTS)


def allowed_networks() -> list[Network]:
    return list(networks_of(tuple(settings.WEBHOOK_ALLOWED_NETWORKS)))


def check_host(host: str, port: int) -> list[tuple[socket.AddressFamily, tuple[Any, ...]]]:
    """Resolve `host` once; the port and every answer must be allowed.

    Returns (family, sockaddr) pairs.
    """
    port_reason = port_refusal(port, allowed_ports())
    if port_reason:
        raise BlockedAddressError(f"refused to connect to {host}: {port_reason}")
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
    host: str,
    port: int,
    timeout: float | None,
    options: Sequence[tuple[Any, ...]] | None,
    tls: bool = True,
) -> socket.socket:
    """Connect to the first answer that accepts, and check the peer actually connected to."""
    error: OSError | None = None
    for family, sockaddr in check_host(host, port):
        sock = socket.socket(family, socket.SOCK_STREAM)
        # the attempt's deadline: the connect and all after it (through a copy where TLS
        # will wrap and detach this socket object)
        deadline.watch(sock, copy=tls)
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
        return connect_checked(
            conn._dns_host,
            conn.port,
            conn.timeout,
            conn.socket_options,
            tls=isinstance(conn, HTTPSConnection),
        )
    except socket.gaierror as e:
        raise NameResolutionError(conn.host, conn, e) from e
    except TimeoutError as e:
        raise ConnectTimeoutError(conn, f"connection to {conn.host} timed out") from e
    except OSError as e:
        raise NewConnectionError(conn, f"failed to connect to {conn.host}: {e}") from e


class GuardedHTTPConnection(HTTPConnection):
    response_class = LowWaterResponse  # the answer's first bytes: one wake-up

    def _new_conn(self) -> socket.socket:
        return guarded_socket(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:  # a kept-alive connection: under this attempt's deadline too
            deadline.watch(self.sock)
        super().request(*args, **kwargs)


class GuardedHTTPSConnection(HTTPSConnection):
    response_class = LowWaterResponse  # the answer's first bytes: one wake-up

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
