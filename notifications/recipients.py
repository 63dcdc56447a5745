"""Recipients from what a caller gives (API body, CLI --to).

    recipient_from_spec(owner, spec) -> NewRecipient(recipient, secret)

- spec: {"email": "a@b.c"} or {"webhook": "https://...", "secret": "whsec_..." (optional),
  "headers": {...} (optional)}, and optionally "timezone" (an IANA name, for the times shown
  in emails) and "event_types" (the events it receives: a non-empty list of
  catalog.SUBSCRIBABLE, or null for all); the CLI's "email:ADDR" / "webhook:URL" becomes the
  same dict through parse_cli_spec(text).
- secret: the webhook secret when the project generated it (to be shown to the caller
  once), else None.
- Bad input raises RecipientError(field, message) and writes nothing.

An owner's recipient with the same address is reused (an endpoint keeps its secret across
batches), and its headers, timezone or event types are updated when given. A different
secret for an existing endpoint is refused: rotate it. A disabled recipient stays disabled
until someone enables it on purpose (POST /api/recipients/{id}/enable/ or the admin): naming
it again is refused with a RecipientError naming its field, so a batch that names it writes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from notifications.addresses import AddressError, check_headers, check_webhook_url
from notifications.catalog import SUBSCRIBABLE
from notifications.models import Recipient
from notifications.netguard import allowed_networks, allowed_ports
from notifications.urlsecrets import split_secret_query
from notifications.webhook_secrets import (
    SecretFormatError,
    active_secrets,
    add_secret,
    check_secret,
)

EMAIL_KEYS = frozenset({"email", "timezone", "event_types"})
WEBHOOK_KEYS = frozenset({"webhook", "secret", "headers", "timezone", "event_types"})


class RecipientError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class RecipientConflict(RecipientError):
    """Well formed, but clashes with the endpoint as it is (it has another secret)."""


@dataclass(frozen=True)
class NewRecipient:
    recipient: Recipient
    secret: str | None


def recipient_at(owner: Any, number: int, spec: dict[str, Any]) -> NewRecipient:
    """recipient_from_spec() for the n-th of a list: errors name `recipients[n].<field>`."""
    try:
        return recipient_from_spec(owner, spec)
    except RecipientError as error:
        raise type(error)(f"recipients[{number}].{error.field}", str(error)) from None


def parse_cli_spec(text: str) -> dict[str, Any]:
    kind, sep, address = (text or "").partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in {"email", "webhook"} or not address.strip():
        raise RecipientError("to", f"expected email:ADDRESS or webhook:URL, got {text!r}")
    return {kind: address.strip()}


def recipient_from_spec(owner: Any, spec: dict[str, Any]) -> NewRecipient:
    if not isinstance(spec, dict):
        raise RecipientError("recipient", 'a recipient is an object such as {"email": ...}')
    if "email" in spec and "webhook" not in spec:
        return _email(owner, spec)
    if "webhook" in spec and "email" not in spec:
        return _webhook(owner, spec)
    raise RecipientError("recipient", "a recipient needs exactly one of 'email' or 'webhook'")


def _unknown(spec: dict[str, Any], known: frozenset[str]) -> None:
    extra = sorted(set(spec) - known)
    if extra:
        raise RecipientError(extra[0], f"unknown recipient field {extra[0]!r}")


def _timezone(spec: dict[str, Any]) -> str | None:
    name = spec.get("timezone")
    if name is None:
        return None
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise RecipientError("timezone", f"unknown time zone {name!r}") from None
    return str(name)


def check_event_types(value: Any) -> list[str]:
    """A subscription as stored: the event types in catalog order, or [] for all (None)."""
    if value is None:
        return []
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise RecipientError(
            "event_types", "a non-empty list of event types, or null for all of them"
        )
    unknown = sorted(set(value) - set(SUBSCRIBABLE))
    if unknown:
        raise RecipientError(
            "event_types", f"unknown event type {unknown[0]!r}; one of {', '.join(SUBSCRIBABLE)}"
        )
    return [event_type for event_type in SUBSCRIBABLE if event_type in value]


def _event_types(spec: dict[str, Any]) -> list[str] | None:
    return check_event_types(spec["event_types"]) if "event_types" in spec else None


def _owner(owner: Any) -> Any:
    return owner if owner is not None and getattr(owner, "pk", None) is not None else None


def _email(owner: Any, spec: dict[str, Any]) -> NewRecipient:
    _unknown(spec, EMAIL_KEYS)
    address = spec["email"]
    try:
        if not isinstance(address, str):
            raise ValidationError("not text")
        address = address.strip()
        validate_email(address)
    except ValidationError:
        raise RecipientError("email", f"{address!r} is not a valid email address") from None
    tz, events = _timezone(spec), _event_types(spec)
    recipient, _ = _get_or_create(_owner(owner), Recipient.Kind.EMAIL, email=address)
    _refuse_disabled(recipient, "email")
    _update(recipient, timezone=tz, event_types=events)
    return NewRecipient(recipient, None)


def _webhook(owner: Any, spec: dict[str, Any]) -> NewRecipient:
    _unknown(spec, WEBHOOK_KEYS)
    try:
        url = check_webhook_url(
            spec["webhook"],
            allow_http=settings.WEBHOOK_ALLOW_HTTP,
            allowed=allowed_networks(),
            ports=allowed_ports(),
        )
    except AddressError as error:
        raise RecipientError("webhook", str(error)) from None
    try:
        headers = check_headers(spec["headers"]) if "headers" in spec else None
    except AddressError as error:
        raise RecipientError("headers", str(error)) from None
    secret = spec.get("secret")
    if secret is not None:
        try:
            check_secret(secret)
        except SecretFormatError as error:
            raise RecipientError("secret", str(error)) from None
    tz, events = _timezone(spec), _event_types(spec)
    with transaction.atomic():
        shown, query = split_secret_query(url)
        recipient, created = _get_or_create(_owner(owner), Recipient.Kind.WEBHOOK, url=shown)
        _refuse_disabled(recipient, "webhook")
        if created:
            _update(recipient, url_query=query)
        elif query != (recipient.url_query or ""):
            raise RecipientConflict(
                "webhook",
                "this endpoint is stored with another secret in its URL query; delete the "
                "recipient and add it again to change it",
            )
        if not created and secret is not None and secret not in active_secrets(recipient):
            raise RecipientConflict(
                "secret",
                "this endpoint already has a different secret; rotate it instead "
                "(POST /api/recipients/{id}/rotate-secret/)",
            )
        _update(recipient, headers=headers, timezone=tz, event_types=events)
        generated = None
        if created or not active_secrets(recipient):
            stored = add_secret(recipient, secret)
            generated = stored if secret is None else None
    return NewRecipient(recipient, generated)


def _get_or_create(owner: Any, kind: str, **address: str) -> tuple[Recipient, bool]:
    lookup = {"owner": owner, "kind": kind, "email": "", "url": "", **address}
    try:
        with transaction.atomic():
            return Recipient.objects.get_or_create(**lookup)
    except IntegrityError:  # created meanwhile by a concurrent request
        return Recipient.objects.get(**lookup), False


def _refuse_disabled(recipient: Recipient, field: str) -> None:
    if recipient.disabled_at is None:
        return
    raise RecipientError(
        field,
        f"{recipient.address} was disabled on {recipient.disabled_at:%Y-%m-%d %H:%M} UTC "
        f"({recipient.disabled_reason or 'by an operator'}); it stays disabled until someone "
        f"enables it (POST /api/recipients/{recipient.pk}/enable/ or the admin)",
    )


def _update(recipient: Recipient, **fields: Any) -> None:
    changes = {name: value for name, value in fields.items() if value is not None}
    if changes:
        for name, value in changes.items():
            setattr(recipient, name, value)
        recipient.save(update_fields=list(changes))
