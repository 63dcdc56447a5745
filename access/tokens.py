"""API tokens: made at random, shown once, stored as a SHA-256 digest, optionally expiring.

A token carries 256 random bits, so a fast digest is as strong as a slow password hash
here, and costs nothing per request (the reasoning django-rest-knox and GitHub follow).
Tokens made before hashing (40 hex characters, Django REST framework's) were migrated to
their digests and keep working.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from access.models import ApiToken

TOKEN_PREFIX = "ld_"  # noqa: S105 (a marker, not a secret)
HINT_LENGTH = 8


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hint(token: str) -> str:
    return token[:HINT_LENGTH]


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def issue(
    user: Any,
    *,
    expires_in: int | None = None,
    rotate: bool = False,
    name: str = "",
    prefixes: Sequence[str] = (),
) -> tuple[ApiToken, str]:
    """A new token for user (rotate: the user's other tokens are revoked), and its text."""
    token = new_token()
    expires_at = timezone.now() + timedelta(seconds=expires_in) if expires_in else None
    row = ApiToken(
        user=user,
        name=name,
        digest=digest(token),
        hint=hint(token),
        prefixes=list(prefixes),
        expires_at=expires_at,
    )
    row.full_clean(exclude=["user", "digest", "hint"])
    with transaction.atomic():
        if rotate:
            ApiToken.objects.filter(user=user).delete()
        row.save()
    return row, token


def find(token: str) -> ApiToken | None:
    """The stored token that `token` is, with its user; None when there is none."""
    return ApiToken.objects.select_related("user").filter(digest=digest(token)).first()
