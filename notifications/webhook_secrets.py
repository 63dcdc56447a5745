"""Webhook signing secrets in the Standard Webhooks `whsec_<base64>` form, and their rotation."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notifications.models import Recipient, WebhookSecret

PREFIX = "whsec_"
MIN_BYTES = 24
MAX_BYTES = 64
GENERATED_BYTES = 32


class SecretFormatError(ValueError):
    pass


def generate_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_BYTES)).decode("ascii")


def check_secret(secret: object) -> str:
    """The secret itself when it is `whsec_` + base64 of 24 to 64 bytes; never echoes it."""
    if not isinstance(secret, str) or not secret.startswith(PREFIX):
        raise SecretFormatError("a webhook secret must be a string starting with 'whsec_'")
    try:
        raw = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise SecretFormatError("a webhook secret must be 'whsec_' followed by base64") from None
    if not MIN_BYTES <= len(raw) <= MAX_BYTES:
        raise SecretFormatError(
            f"a webhook secret must hold {MIN_BYTES} to {MAX_BYTES} random bytes, not {len(raw)}"
        )
    return secret


def active_secrets(recipient: Recipient, now: datetime | None = None) -> list[str]:
    """Every secret that signs requests now: the current one, and old ones in their grace time."""
    now = now or timezone.now()
    rows = recipient.secrets.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    return [row.secret for row in rows.order_by("created_at", "id")]


def active_secrets_of(
    recipient_ids: Iterable[int], now: datetime | None = None
) -> dict[int, list[str]]:
    """active_secrets() for many recipients in one query."""
    now = now or timezone.now()
    rows = WebhookSecret.objects.filter(recipient_id__in=list(recipient_ids)).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    found: dict[int, list[str]] = {}
    for recipient_id, secret in rows.order_by("created_at", "id").values_list(
        "recipient_id", "secret"
    ):
        found.setdefault(recipient_id, []).append(secret)
    return found


def current_secret(recipient: Recipient) -> WebhookSecret | None:
    """The newest secret: the one a receiver should verify with (older ones end their grace)."""
    return recipient.secrets.order_by("-created_at", "-id").first()


def add_secret(recipient: Recipient, secret: str | None = None) -> str:
    secret = check_secret(secret) if secret is not None else generate_secret()
    WebhookSecret.objects.create(recipient=recipient, secret=secret)
    return secret


def rotate_secret(
    recipient: Recipient, secret: str | None = None, grace: timedelta | None = None
) -> str:
    """Add a new secret; the current ones stay valid for `grace` (WEBHOOK_SECRET_GRACE)."""
    if secret is not None:
        check_secret(secret)
    grace = grace if grace is not None else timedelta(seconds=settings.WEBHOOK_SECRET_GRACE)
    now = timezone.now()
    with transaction.atomic():
        current = recipient.secrets.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now + grace)
        )
        current.update(expires_at=now + grace)
        return add_secret(recipient, secret)
