"""Permalinks (`/l/<token>`): absolute addresses for payloads, and how long one serves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from tasks.models import ShareLink

PLACEHOLDER = "TOKEN"


def permalink_maker() -> Callable[[str], str | None]:
    """A function token -> absolute permalink, or -> None when permalinks are not served.

    Resolved once, not per link: exports call it for up to a million links.
    """
    base = settings.LINKS_PUBLIC_BASE_URL
    try:
        path = reverse("permalink", kwargs={"token": PLACEHOLDER}) if base else None
    except NoReverseMatch:
        path = None
    if base is None or path is None:
        return lambda token: None
    head, _, tail = (base.rstrip("/") + path).rpartition(PLACEHOLDER)
    return lambda token: f"{head}{token}{tail}"


def serves_until(link: ShareLink) -> datetime | None:
    """Until when a permalink redirects (None: as long as the link is refreshed).

    A link still being refreshed serves until refresh_until; one that no longer is (its
    batch does not refresh, it is on its last signature, its object is gone) serves until
    its expiry, like the URL it was handed out with. Revoked and lapsed links never do.
    """
    if link.refresh_at is None:
        return link.expires_at
    return link.refresh_until


def redirect_ttl(link: ShareLink, now: datetime, ttl: int) -> int | None:
    """Seconds the redirect's URL lives (never past the link's end); None: 410 Gone."""
    if link.status != ShareLink.Status.ACTIVE:
        return None
    end = serves_until(link)
    if end is None:
        return ttl
    left = int((end - now).total_seconds())
    return min(ttl, left) if left >= 1 else None
