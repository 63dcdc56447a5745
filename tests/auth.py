"""API credentials for tests: the one place that knows how a token is made."""

from __future__ import annotations

from typing import Any

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def api_token(user: Any) -> str:
    """A new API token for user, as its owner would send it."""
    return Token.objects.create(user=user).key


def api_client_for(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client
