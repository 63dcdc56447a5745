"""Tighter SSRF defaults: IPv6 forms that carry a private IPv4 address (NAT64, 6to4, Teredo,
IPv4-compatible), cloud metadata addresses even inside an allowed network, and only ports
80 and 443 unless WEBHOOK_ALLOWED_PORTS allows more."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from django.core.exceptions import ImproperlyConfigured

from common.clientaddr import parse_networks
from common.envparse import parse_port_ranges
from notifications import dispatcher
from notifications.addresses import AddressError, check_webhook_url
from notifications.models import Recipient
from notifications.netguard import refusal
from notifications.outbox import publish
from notifications.recipients import RecipientError, recipient_from_spec
from notifications.webhook_secrets import add_secret

WEB_PORTS = [(80, 80), (443, 443)]


def teredo(server: str, client: str) -> str:
    """A Teredo address (RFC 4380): 2001:0::/32, the server, flags, port, the client inverted."""
    server_bits = int(ipaddress.IPv4Address(server))
    client_bits = int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
    port_bits = 0xFFFF ^ 40000
    value = (0x20010000 << 96) | (server_bits << 64) | (port_bits << 32) | client_bits
    return str(ipaddress.IPv6Address(value))


def why(address: str, allowed: list[str] | None = None) -> str | None:
    return refusal(ipaddress.ip_address(address), parse_networks(allowed or []))


PUBLIC_V4 = "8.8.8.8"
CARRIED = {
    "NAT64 of loopback": ("64:ff9b::7f00:1", "loopback"),
    "NAT64 of a private address": ("64:ff9b::a00:1", "private"),
    "NAT64 of 192.168/16": ("64:ff9b::c0a8:101", "private"),
    "NAT64 of the metadata address": ("64:ff9b::a9fe:a9fe", "metadata"),
    "6to4 of loopback": ("2002:7f00:1::1", "loopback"),
    "6to4 of a private address": ("2002:c0a8:101::1", "private"),
    "6to4 of the metadata address": ("2002:a9fe:a9fe::1", "metadata"),
    "Teredo client on loopback": (teredo(PUBLIC_V4, "127.0.0.1"), "loopback"),
    "Teredo client on a private address": (teredo(PUBLIC_V4, "10.1.2.3"), "private"),
    "Teredo server on a private address": (teredo("192.168.0.1", PUBLIC_V4), "private"),
    "Teredo client on the metadata address": (teredo(PUBLIC_V4, "169.254.169.254"), "metadata"),
    "IPv4-compatible loopback": ("::7f00:1", "loopback"),
    "IPv4-compatible private": ("::a00:1", "private"),
    "IPv4-mapped metadata": ("::ffff:169.254.169.254", "metadata"),
}


@pytest.mark.parametrize(("address", "kind"), CARRIED.values(), ids=CARRIED.keys())
def test_ipv6_forms_carrying_a_refused_ipv4_address_are_refused(address, kind):
    reason = why(address)
    assert reason is not None and kind in reason


def test_the_refusal_names_the_ipv4_address_and_the_form():
    assert why("64:ff9b::7f00:1") == "64:ff9b::7f00:1 carries 127.0.0.1 (NAT64): " + (
        "127.0.0.1 is a loopback address"
    )


def test_nat64_of_a_public_address_is_allowed():
    """An IPv6-only host behind DNS64 reaches public IPv4 endpoints through 64:ff9b::/96."""
    assert why("64:ff9b::808:808") is None
    assert why("64:ff9b::5db8:d822") is None  # 93.184.216.34


def test_allowing_an_ipv4_network_does_not_need_its_nat64_form_listed():
    assert why("64:ff9b::a00:1", ["10.0.0.0/8"]) is None
    assert why("64:ff9b::a00:1", ["64:ff9b::/96"]) is not None  # the IPv4 it carries decides


@pytest.mark.parametrize("address", ["64:ff9b:1::a00:1", "64:ff9b:1::808:808", "64:ff9b:1:ab::1"])
def test_local_use_nat64_is_refused_unless_its_prefix_is_allowed(address):
    reason = why(address)
    assert reason is not None and "local-use NAT64" in reason
    assert why(address, ["64:ff9b:1::/48"]) is None


METADATA = [
    ("169.254.169.254", "169.254.0.0/16"),
    ("169.254.170.2", "169.254.0.0/16"),
    ("169.254.170.23", "0.0.0.0/0"),
    ("fd00:ec2::254", "fd00::/8"),
    ("fd00:ec2::23", "::/0"),
    ("100.100.100.200", "100.64.0.0/10"),
    ("192.0.0.192", "192.0.0.0/24"),
    ("168.63.129.16", "168.63.0.0/16"),
    ("::ffff:169.254.169.254", "169.254.0.0/16"),
    ("64:ff9b::a9fe:a9fe", "64:ff9b::/96"),
    ("64:ff9b:1::a9fe:a9fe", "64:ff9b:1::/48"),
]


@pytest.mark.parametrize(("address", "network"), METADATA)
def test_metadata_addresses_are_refused_even_inside_an_allowed_network(address, network):
    reason = why(address, [network])
    assert reason is not None and "metadata" in reason


def test_the_rest_of_an_allowed_link_local_network_stays_allowed():
    assert why("169.254.1.1", ["169.254.0.0/16"]) is None
    assert why("169.254.1.1") is not None


def test_public_addresses_stay_allowed():
    for address in ("8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"):
        assert why(address) is None, address


# ---- ports --------------------------------------------------------------------------


def url_check(url: str, ports: list[tuple[int, int]] = WEB_PORTS) -> str:
    return check_webhook_url(url, allow_http=True, allowed=[], ports=ports)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/x",
        "https://hooks.example.com:443/x",
        "http://hooks.example.com/x",
        "http://hooks.example.com:80/x",
    ],
)
def test_ports_80_and_443_are_allowed_by_default(url):
    assert url_check(url) == url


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com:22/x", "http://hooks.example.com:8080/x", "https://h.example:1/"],
)
def test_other_ports_are_refused_by_default(url):
    with pytest.raises(AddressError, match="not an allowed webhook port"):
        url_check(url)


def test_more_ports_can_be_allowed():
    ports = [*WEB_PORTS, (8000, 8999)]
    assert url_check("https://hooks.example.com:8443/x", ports)
    with pytest.raises(AddressError, match="port 9000"):
        url_check("https://hooks.example.com:9000/x", ports)


def test_the_default_setting_is_80_and_443():
    assert parse_port_ranges("WEBHOOK_ALLOWED_PORTS", "80,443") == WEB_PORTS


@pytest.mark.parametrize(
    ("raw", "ranges"),
    [("443", [(443, 443)]), ("80, 443,8000-8999", [(80, 80), (443, 443), (8000, 8999)])],
)
def test_port_setting_parses_ports_and_ranges(raw, ranges):
    assert parse_port_ranges("WEBHOOK_ALLOWED_PORTS", raw) == ranges


@pytest.mark.parametrize("raw", ["", "0", "65536", "http", "9000-8000", "80,", "1-2-3", "-5"])
def test_bad_port_settings_name_the_variable(raw):
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_ALLOWED_PORTS"):
        parse_port_ranges("WEBHOOK_ALLOWED_PORTS", raw)


# ---- through the recipient API and the send path -------------------------------------


@pytest.fixture
def strict(settings):
    """Production defaults: nothing allowed beyond public addresses on ports 80 and 443."""
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    settings.WEBHOOK_ALLOWED_PORTS = WEB_PORTS
    return settings


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://[64:ff9b::7f00:1]/hook", "loopback"),
        ("https://[2002:a00:1::1]/hook", "private"),
        ("https://hooks.example.com:22/hook", "port 22"),
    ],
)
def test_recipient_api_refuses_and_names_the_field(strict, url, words):
    with pytest.raises(RecipientError, match=words) as caught:
        recipient_from_spec(None, {"webhook": url})
    assert caught.value.field == "webhook"
    assert Recipient.objects.count() == 0


def send_now(url: str):
    recipient = Recipient.objects.create(kind="webhook", url=url)
    add_secret(recipient)
    [delivery] = publish("links.issued", subject="b", recipients=[recipient], items=[])
    dispatcher.run([delivery.id])
    delivery.refresh_from_db()
    return delivery


@pytest.fixture
def no_connections(monkeypatch):
    connects: list[object] = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, addr: connects.append(addr))
    return connects


@pytest.mark.django_db
def test_a_stored_url_on_a_refused_port_fails_without_connecting(strict, no_connections):
    delivery = send_now("https://hooks.example.com:22/hook")

    assert delivery.status == "failed"
    attempt = delivery.attempts.get()
    assert attempt.outcome == "permanent" and "port 22" in attempt.error
    assert no_connections == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "kind"),
    [("64:ff9b::7f00:1", "loopback"), ("2002:a9fe:a9fe::1", "metadata")],
)
def test_a_name_resolving_to_a_carrying_form_is_refused_at_connect(
    strict, no_connections, monkeypatch, answer, kind
):
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host != "hooks.example.test":
            return real(host, *args, **kwargs)
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (answer, 443, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    strict.WEBHOOK_ALLOW_HTTP = False

    delivery = send_now("https://hooks.example.test/hook")

    assert delivery.status == "failed"
    assert kind in delivery.attempts.get().error
    assert no_connections == []


@pytest.mark.django_db
def test_metadata_is_refused_at_connect_although_its_network_is_allowed(strict, no_connections):
    strict.WEBHOOK_ALLOWED_NETWORKS = ["169.254.0.0/16"]

    delivery = send_now("http://169.254.169.254/latest/meta-data/")

    assert delivery.status == "failed"
    assert "metadata" in delivery.attempts.get().error
    assert no_connections == []
