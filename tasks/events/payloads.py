"""The items of a `links.issued` event, as the delivery outbox's contract describes them (pure)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from notifications.payloads import iso
from tasks.models import ShareLink

LINK_ITEM_COLUMNS = ("id", "key", "url", "expires_at", "token", "filename", "status")


def link_item(link: ShareLink, permalink: Callable[[str], str | None]) -> dict[str, Any]:
    return {
        "id": link.id,
        "key": link.key,
        "url": link.url,
        "expires_at": iso(link.expires_at),
        "permalink": permalink(link.token),
        "filename": link.filename,
    }
