"""One transport per channel; TRANSPORTS maps a recipient kind to its class."""

from __future__ import annotations

from notifications.models import Recipient
from notifications.transports.base import Sent, Transport, TransportError
from notifications.transports.mail import EmailTransport
from notifications.transports.webhook import WebhookTransport

TRANSPORTS: dict[str, type[Transport]] = {
    Recipient.Kind.EMAIL: EmailTransport,
    Recipient.Kind.WEBHOOK: WebhookTransport,
}

__all__ = [
    "TRANSPORTS",
    "EmailTransport",
    "Sent",
    "Transport",
    "TransportError",
    "WebhookTransport",
]
