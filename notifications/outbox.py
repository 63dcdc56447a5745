"""The delivery outbox: the one way other apps hand events to recipients.

Contract (being built on branch `delivery`):

    publish(event_type, *, subject, recipients, items, manifest=None) -> list[Delivery]

- event_type: "links.issued" | "links.refreshed" | "links.revoked" | "links.lapsed"
- subject: an opaque id of what the event is about (a batch id), shown in payloads
  as data.batch
- recipients: Recipient rows
- items: the links, each {"id", "key", "url", "expires_at" (ISO 8601), "permalink"
  (str or None), "filename" (str or None)}
- manifest: for emails over the link limit, a callable taking the items and returning
  a pre-signed URL of a CSV manifest of them
Deliveries are created in the caller's transaction and dispatched after it commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from notifications.models import Recipient


def publish(
    event_type: str,
    *,
    subject: str,
    recipients: Sequence[Recipient],
    items: Sequence[dict[str, Any]],
    manifest: Callable[[Sequence[dict[str, Any]]], str] | None = None,
) -> list[Any]:
    raise NotImplementedError("the delivery outbox lands with branch `delivery`")
