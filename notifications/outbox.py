"""The delivery outbox: the one way other apps hand events to recipients.

    publish(event_type, *, subject, recipients, items, manifest=None) -> list[Delivery]
    publish_test(recipient) -> Delivery   (the `test` event, on request)

- event_type: "links.issued" | "links.refreshed" | "links.revoked" | "links.lapsed"
- subject: an opaque id of what the event is about (a batch id), shown in payloads
  as data.batch
- recipients: Recipient rows
- items: the links, each {"id", "key", "url", "expires_at" (RFC 3339, UTC, `Z`: see
  payloads.iso), "permalink" (str or None), "filename" (str or None)}
- manifest: for emails over the link limit, a callable taking the items and returning
  a pre-signed URL of a CSV manifest of them
Deliveries are created in the caller's transaction and dispatched after it commits.

One delivery per email recipient; one per webhook recipient per part, the webhook bodies
split so that each is at most WEBHOOK_MAX_BODY_BYTES. Bad input (unknown event type, an
unsaved recipient, too many links for email without a manifest, one link too large for a
body) raises PublishError and writes nothing. Deliveries to disabled recipients are
recorded as failed and not sent. A recipient that subscribes to some event types only
(Recipient.event_types) gets no delivery for the others. Each body is stored once
(MessageBody) and shared by the deliveries that send it; the returned deliveries refer to it
by id and load it on access, so that a million links do not stay in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications import catalog
from notifications.lanes import Lane
from notifications.models import Delivery, MessageBody, Recipient
from notifications.payloads import (
    Part,
    PayloadTooLarge,
    email_payload,
    payload_for_test,
    webhook_parts,
)
from notifications.queue import enqueue_lanes

EVENT_TYPES = frozenset(catalog.SUBSCRIBABLE)  # publish()'s; the test event has publish_test()
_CREATE_CHUNK = 100
MAX_SUBJECT = 200  # Delivery.subject


class PublishError(ValueError):
    pass


def publish(
    event_type: str,
    *,
    subject: str,
    recipients: Sequence[Recipient],
    items: Sequence[dict[str, Any]],
    manifest: Callable[[Sequence[dict[str, Any]]], str] | None = None,
    reason: str | None = None,
) -> list[Delivery]:
    targets = _check(event_type, subject, recipients)
    now = timezone.now()
    emails = [r for r in targets if r.kind == Recipient.Kind.EMAIL]
    webhooks = [r for r in targets if r.kind == Recipient.Kind.WEBHOOK]
    email_body = _email_body(event_type, subject, now, items, manifest, reason) if emails else None
    parts, bodies = (
        _webhook_bodies(event_type, subject, now, items, reason) if webhooks else (0, None)
    )

    def new_deliveries() -> Iterator[Delivery]:
        common = {"event_type": event_type, "subject": subject, "created_at": now}
        if emails:
            body = _store(email_body or "", now)
            for recipient in emails:
                yield _delivery(recipient, now, body_id=body, link_count=len(items), **common)
        for part in bodies or ():
            body = _store(part.body, now)  # once, however many recipients send it
            for recipient in webhooks:
                yield _delivery(
                    recipient,
                    now,
                    body_id=body,
                    part=part.number,
                    parts=parts,
                    link_count=part.count,
                    **common,
                )

    with transaction.atomic():
        created = _create(new_deliveries())
        lanes = {
            Lane.of(d.recipient.kind, d.recipient_id)
            for d in created
            if d.status == Delivery.Status.PENDING and d.queued_at is not None
        }
        transaction.on_commit(lambda: enqueue_lanes(sorted(lanes, key=str)), robust=True)
    return created


def publish_test(recipient: Recipient) -> Delivery:
    """A `test` event to one webhook endpoint, whatever it subscribes to: one delivery, sent,
    signed, retried and recorded like any other. A disabled endpoint is refused."""
    if recipient.pk is None or recipient.kind != Recipient.Kind.WEBHOOK:
        raise PublishError("only a saved webhook endpoint takes a test event")
    if recipient.is_disabled:
        raise PublishError(
            f"the endpoint is disabled ({recipient.disabled_reason}); enable it first"
        )
    now = timezone.now()
    with transaction.atomic():
        delivery = _delivery(
            recipient,
            now,
            event_type=catalog.TEST_EVENT,
            subject=catalog.TEST_EVENT,
            created_at=now,
            body_id=_store(payload_for_test(recipient.pk, now), now),
        )
        [created] = _save([delivery])
        transaction.on_commit(
            lambda: enqueue_lanes([Lane.of(recipient.kind, recipient.id)]), robust=True
        )
    return created


def _check(event_type: str, subject: str, recipients: Sequence[Recipient]) -> list[Recipient]:
    if event_type not in EVENT_TYPES:
        raise PublishError(f"unknown event type {event_type!r}; one of {sorted(EVENT_TYPES)}")
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT:
        raise PublishError(f"subject must be a non-empty id of at most {MAX_SUBJECT} characters")
    unique: dict[int, Recipient] = {}
    for recipient in recipients:
        if not isinstance(recipient, Recipient) or recipient.pk is None:
            raise PublishError("recipients must be saved Recipient rows")
        unique.setdefault(recipient.pk, recipient)
    return [recipient for recipient in unique.values() if recipient.wants(event_type)]


def _webhook_bodies(
    event_type: str,
    subject: str,
    now: datetime,
    items: Sequence[dict[str, Any]],
    reason: str | None = None,
) -> tuple[int, Iterator[Part]]:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        return webhook_parts(event_type, subject, now, items, limit, reason)
    except PayloadTooLarge as error:
        raise PublishError(f"{error}: raise WEBHOOK_MAX_BODY_BYTES") from None


def _email_body(
    event_type: str,
    subject: str,
    now: datetime,
    items: Sequence[dict[str, Any]],
    manifest: Callable[[Sequence[dict[str, Any]]], str] | None,
    reason: str | None = None,
) -> str:
    manifest_url = None
    if len(items) > settings.EMAIL_LINK_LIMIT:
        if manifest is None:
            raise PublishError(
                f"{len(items)} links are over EMAIL_LINK_LIMIT ({settings.EMAIL_LINK_LIMIT}): "
                "emailing them needs a manifest callable"
            )
        manifest_url = manifest(items)
    return email_payload(event_type, subject, now, items, manifest_url, reason)


def _store(text: str, now: datetime) -> int:
    """Store a body once; its id (the deliveries refer to it and do not hold the text)."""
    return int(MessageBody.objects.create(text=text, created_at=now).pk)


def _delivery(recipient: Recipient, now: datetime, **fields: Any) -> Delivery:
    if recipient.is_disabled:
        return Delivery(
            recipient=recipient,
            status=Delivery.Status.FAILED,
            last_error=f"recipient disabled: {recipient.disabled_reason}"[:500],
            **fields,
        )
    if recipient.breaker_open_until is not None and recipient.breaker_open_until > now:
        # the endpoint's breaker is open: due when it may close (the sweeper queues it then)
        return Delivery(recipient=recipient, next_attempt_at=recipient.breaker_open_until, **fields)
    return Delivery(recipient=recipient, next_attempt_at=now, queued_at=now, **fields)


def _create(deliveries: Iterator[Delivery]) -> list[Delivery]:
    created: list[Delivery] = []
    chunk: list[Delivery] = []
    for delivery in deliveries:
        chunk.append(delivery)
        if len(chunk) >= _CREATE_CHUNK:
            created.extend(_save(chunk))
            chunk = []
    created.extend(_save(chunk))
    return created


def _save(chunk: list[Delivery]) -> list[Delivery]:
    Delivery.objects.bulk_create(chunk)
    return chunk
