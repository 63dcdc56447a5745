"""`Authorization: Token <token>` against the stored digests; expired tokens are refused."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from access.tokens import find


class ApiTokenAuthentication(TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        token = find(key)
        if token is None:
            raise AuthenticationFailed("Invalid token.")
        if token.is_expired():
            raise AuthenticationFailed("Token expired: ask for a new one (manage.py api_token).")
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return token.user, token
