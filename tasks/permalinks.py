"""Absolute permalinks (`/l/<token>`) once the route exists and the public address is set."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.urls import NoReverseMatch, reverse

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
