"""Email messages from Django templates: the links with their expiry in the recipient's zone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.utils import DNS_NAME
from django.template.loader import render_to_string

from notifications.models import Delivery

TITLES = {
    "links.issued": "New links",
    "links.refreshed": "Fresh links",
    "links.revoked": "Links revoked",
    "links.lapsed": "Links expired",
}


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(value: Any, tz: ZoneInfo) -> str:
    """An ISO 8601 time shown in `tz`, e.g. '2026-11-28 16:15 CET'; other values as given."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def context(message: dict[str, Any], tz_name: str) -> dict[str, Any]:
    tz = zone(tz_name)
    data = message["data"]
    links = [
        {
            **link,
            "name": link.get("filename") or link.get("key"),
            "expires": local_time(link.get("expires_at"), tz),
        }
        for link in data.get("links", [])
    ]
    return {
        "title": TITLES.get(message["type"], message["type"]),
        "event_type": message["type"],
        "batch": data["batch"],
        "count": data["count"],
        "links": links,
        "manifest_url": data.get("manifest_url"),
        "earliest_expires": local_time(data.get("earliest_expires_at"), tz),
        "timezone": str(tz),
    }


def build_message(
    delivery: Delivery, connection: BaseEmailBackend | None = None
) -> EmailMultiAlternatives:
    recipient = delivery.recipient
    ctx = context(json.loads(delivery.payload), recipient.timezone)
    subject = " ".join(render_to_string("notifications/email/subject.txt", ctx).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("notifications/email/links.txt", ctx),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient.email],
        connection=connection,
        headers={
            # The same on every retry, so a mailbox can drop a duplicate.
            "Message-ID": f"<{delivery.message_id}@{DNS_NAME}>",
            "X-Linkdist-Delivery": delivery.message_id,
        },
    )
    message.attach_alternative(render_to_string("notifications/email/links.html", ctx), "text/html")
    return message
