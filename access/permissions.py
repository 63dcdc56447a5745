"""A narrowed token reaches only the endpoints whose objects are bounded by keys.

Views that filter what they show by the token's prefixes say so with `key_scoped = True`
(batches, links, exports, revocations, schedules, /api/me/). Every other endpoint concerns
all of the user's objects whatever their keys (recipients, deliveries, replays): a token
narrowed to some prefixes gets 403 there, naming its scope. A view added later is closed
to narrowed tokens until it filters by scope and says so.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from access.models import ApiToken
from access.scopes import quoted


def narrowed_prefixes(request: Any) -> tuple[str, ...] | None:
    """The prefixes the request's token is narrowed to; None when it is not narrowed."""
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken) and token.prefixes:
        return tuple(token.prefixes)
    return None


class NarrowedTokensOnlyWhereScoped(BasePermission):
    message = "this token is narrowed to some prefixes and may not use this endpoint"

    def has_permission(self, request: Any, view: Any) -> bool:
        prefixes = narrowed_prefixes(request)
        if prefixes is None or getattr(view, "key_scoped", False):
            return True
        self.message = (
            f"this token is narrowed to {quoted(prefixes)}: this endpoint concerns all your "
            "batches whatever their keys; use a token that is not narrowed (manage.py "
            "api_token without --scope)"
        )
        return False


ADDRESS_KEYS = frozenset({"email", "webhook"})


def recipients_refusal(request: Any, specs: Any) -> tuple[str, str] | None:
    """(field, why) when a narrowed token's recipient specs would change a recipient.

    A batch or schedule names its recipients; naming an existing one with other settings
    (headers, secret, event types, time zone) would change it for all the user's batches.
    A narrowed token therefore names recipients by address alone.
    """
    prefixes = narrowed_prefixes(request)
    if prefixes is None or not isinstance(specs, list):
        return None
    for number, spec in enumerate(specs):
        extra = sorted(set(spec) - ADDRESS_KEYS) if isinstance(spec, dict) else []
        if extra:
            return (
                f"recipients[{number}].{extra[0]}",
                f"this token is narrowed to {quoted(prefixes)}: it names recipients by "
                "address alone (email or webhook); change recipients with a token that is "
                "not narrowed",
            )
    return None
