"""GET /api/me/: who the caller is and which keys they (and their token) may share."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.api.serializers import MeSerializer
from access.grants import scope_of_request
from access.models import ApiToken


class MeView(APIView):
    key_scoped = True  # about the caller and their token only

    @extend_schema(
        summary="Who you are and what you may share",
        description="The caller's user name, the key prefixes granted to them, the prefixes "
        "reserved for the service, and the token in use (its hint, name, prefixes, expiry).",
        responses={200: MeSerializer},
    )
    def get(self, request: Request) -> Response:
        scope = scope_of_request(request)
        token = request.auth if isinstance(request.auth, ApiToken) else None
        body: dict[str, Any] = {
            "username": request.user.get_username(),
            "grants": list(scope.granted),
            "reserved": list(scope.reserved),
            "token": None if token is None else token_info(token),
            "scope": scope.describe(),
        }
        return Response(MeSerializer(body).data)


def token_info(token: ApiToken) -> dict[str, Any]:
    return {
        "hint": token.hint,
        "name": token.name,
        "prefixes": token.prefixes,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
    }
