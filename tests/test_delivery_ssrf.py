"""The SSRF guard: webhooks never reach loopback, private, link-local or metadata addresses
unless WEBHOOK_ALLOWED_NETWORKS lists them; checked on the address connected to."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from datetime import UTC, datetime, timedelta

import pytest

from demo.receiver import Receiver
from notifications import dispatcher
from notifications.models import Recipient
from notifications.netguard import guarded_pool_manager
from notifications.outbox import publish
from notifications.recipients import RecipientError, recipient_from_spec
from notifications.transports import WebhookTransport
from notifications.webhook_secrets import add_secret

REFUSED = [
    ("http://127.0.0.1:9/hook", "loopback"),
    ("http://10.0.0.1/hook", "private"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[::1]:9/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]:9/hook", "loopback"),
    ("http://192.168.1.10/hook", "private"),
    ("http://100.100.100.200/hook", "metadata"),
]


@pytest.fixture
def no_allow_list(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    return settings


def webhook_row(url: str) -> Recipient:
    """An endpoint stored while it was allowed (or named by DNS): checked again when sent."""
    recipient = Recipient.objects.create(kind="webhook", url=url)
    add_secret(recipient)
    return recipient


def send_now(recipient: Recipient):
    [delivery] = publish("links.issued", subject="b", recipients=[recipient], items=[])
    dispatcher.run([delivery.id])
    delivery.refresh_from_db()
    return delivery


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "kind"), REFUSED)
def test_an_address_literal_is_refused_when_the_recipient_is_named(no_allow_list, url, kind):
    with pytest.raises(RecipientError, match=kind) as caught:
        recipient_from_spec(None, {"webhook": url})
    assert caught.value.field == "webhook"
    assert Recipient.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "kind"), REFUSED)
def test_a_refused_address_fails_at_send_time_without_connecting(
    no_allow_list, url, kind, monkeypatch
):
    connects = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, addr: connects.append(addr))

    delivery = send_now(webhook_row(url))

    assert delivery.status == "failed"
    [attempt] = delivery.attempts.all()
    assert attempt.outcome == "permanent" and kind in attempt.error
    assert connects == []  # refused before any packet left


@pytest.mark.django_db
def test_a_name_that_resolves_to_loopback_is_refused(no_allow_list, receiver):
    hook = receiver()
    port = hook.url.rsplit(":", 1)[1].split("/")[0]

    delivery = send_now(webhook_row(f"http://localhost:{port}/hook"))

    assert delivery.status == "failed"
    assert "loopback" in delivery.attempts.get().error
    assert hook.requests == []


@pytest.mark.django_db
def test_the_connection_goes_to_the_address_that_was_checked(settings, receiver, monkeypatch):
    """A name is resolved once: the socket connects to that checked address (keeping the
    name in the Host header), so a second, different DNS answer cannot be slipped in."""
    hook = receiver()
    port = int(hook.url.rsplit(":", 1)[1].split("/")[0])
    answers = [("127.0.0.1", port), ("10.0.0.1", port)]
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host != "hooks.example.test":
            return real(host, *args, **kwargs)
        address = answers.pop(0)  # a rebinding resolver: another answer each time
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", address)]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]

    delivery = send_now(webhook_row(f"http://hooks.example.test:{port}/hook"))

    assert delivery.status == "delivered"
    assert hook.requests[0].headers["Host"] == f"hooks.example.test:{port}"
    assert answers == [("10.0.0.1", port)]  # resolved once only


@pytest.mark.django_db
def test_the_allow_list_lets_loopback_through(settings, receiver):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    hook = receiver()

    delivery = send_now(webhook_row(hook.url))

    assert delivery.status == "delivered" and len(hook.requests) == 1


@pytest.mark.django_db
def test_plain_http_is_refused_unless_allowed(settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    with pytest.raises(RecipientError, match="https"):
        recipient_from_spec(None, {"webhook": "http://hooks.example.com/x"})
    delivery = send_now(webhook_row("http://hooks.example.com/x"))
    assert delivery.status == "failed" and "https" in delivery.last_error


def self_signed(tmp_path) -> tuple[str, str]:
    """A certificate for localhost and 127.0.0.1, and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_receiver(tmp_path):
    """A loopback receiver behind TLS with a self-signed certificate; (receiver, url, ca)."""
    cert, key = self_signed(tmp_path)
    hook = Receiver()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    hook._server.socket = context.wrap_socket(hook._server.socket, server_side=True)
    hook.start()
    yield hook, hook.url.replace("http://127.0.0.1", "https://localhost"), cert
    hook.stop()


@pytest.mark.django_db
def test_tls_certificates_are_verified(tls_receiver):
    hook, url, _ca = tls_receiver

    delivery = send_now(webhook_row(url))

    assert delivery.status == "pending"  # a transient failure: retried later
    assert "certificate" in delivery.attempts.get().error.lower()
    assert hook.requests == []


@pytest.mark.django_db
def test_tls_through_the_guard_keeps_the_host_name_for_verification(tls_receiver):
    hook, url, ca = tls_receiver
    trusting = guarded_pool_manager(1, ca_certs=ca)
    [delivery] = publish("links.issued", subject="b", recipients=[webhook_row(url)], items=[])

    dispatcher.run([delivery.id], {"webhook": lambda: WebhookTransport(pool=trusting)})

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert hook.requests[0].headers["Host"].startswith("localhost:")
