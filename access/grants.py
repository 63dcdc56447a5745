"""The scope of a caller: their grants, narrowed by the token they use; the operator's."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from access.models import ApiToken, KeyGrant
from access.permissions import narrowed_prefixes
from access.scopes import KeyScope

OPERATOR = KeyScope(granted=("",))  # the command line: any key but the reserved prefix


def scope_for(user: Any, token: ApiToken | None = None) -> KeyScope:
    """A user's scope (an owner-less job is the operator's); a token may narrow it.

    A superuser is granted the whole bucket (but the reserved prefix), like the operator; a
    deactivated user nothing.
    """
    if user is None or getattr(user, "pk", None) is None:
        return OPERATOR
    if not user.is_active:
        granted: tuple[str, ...] = ()
    elif user.is_superuser:  # may grant themselves anything in the admin anyway
        granted = OPERATOR.granted
    else:
        granted = tuple(KeyGrant.objects.filter(user_id=user.pk).values_list("prefix", flat=True))
    narrowed = tuple(token.prefixes) if token is not None and token.prefixes else None
    return KeyScope(granted=granted, narrowed_to=narrowed)


def scope_of_request(request: Any) -> KeyScope:
    """The scope of an authenticated API request (session or token)."""
    token = request.auth if isinstance(request.auth, ApiToken) else None
    return scope_for(request.user, token)


def narrowed_q(request: Any, field: str) -> Q:
    """Rows whose `field` (a key, or a prefix all their keys share) lies inside the request's
    token's prefixes; every row when the token is not narrowed."""
    prefixes = narrowed_prefixes(request)
    if prefixes is None:
        return Q()
    found = Q(pk__in=[])
    for prefix in prefixes:
        found |= Q(**{f"{field}__startswith": prefix})
    return found
