"""API credentials for tests: the one place that knows how a token is made, and key grants."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rest_framework.test import APIClient

from access.models import KeyGrant
from access.tokens import issue


def grant(user: Any, *prefixes: str) -> None:
    """Let user share keys under each prefix ('' = the whole bucket)."""
    for prefix in prefixes:
        KeyGrant.objects.get_or_create(user=user, prefix=prefix)


def api_token(
    user: Any, *, prefixes: Sequence[str] = (), granted: bool = True, expires_in: int | None = None
) -> str:
    """A new API token for user, as its owner would send it.

    A user with no grant yet is granted the whole bucket, unless granted=False: tests about
    scopes grant their own prefixes first. `prefixes` narrows the token itself.
    """
    if granted and not KeyGrant.objects.filter(user=user).exists():
        grant(user, "")
    return issue(user, prefixes=prefixes, expires_in=expires_in)[1]


def api_client_for(user: Any, **token_options: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user, **token_options)}")
    return client
