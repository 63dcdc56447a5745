"""Links whose owner lost access: the user was deactivated, or no grant of theirs covers the
key any more. A refresh pass revokes such links among those it leased (links.revoked with
the reason) instead of re-signing them; permalinks check the same rule on every request
(with_access).

Batches made on the command line (no owner) are the operator's; a superuser's grants are
the whole bucket. A token's narrowing does not matter here: links belong to the user.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, TypeVar

from django.db.models import (
    BooleanField,
    CharField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
)

from access.models import KeyGrant
from common import metrics
from common.idlists import id_in
from tasks.models import ShareLink
from tasks.revocation.revoke import revoke

log = logging.getLogger(__name__)
INACTIVE = "access ended: the owner's user account was deactivated"
UNGRANTED = "access ended: no key grant of the owner covers these keys any more"


def granted_q(prefix: str = "") -> Q:
    """Rows (ShareLink, or `prefix` + its path) whose owner may share the key today."""
    grants = (
        KeyGrant.objects.filter(user_id=OuterRef(f"{prefix}batch__owner_id"))
        .annotate(link_key=ExpressionWrapper(OuterRef(f"{prefix}key"), output_field=CharField()))
        .filter(link_key__startswith=F("prefix"))
    )
    owner = f"{prefix}batch__owner__"
    covered = Q(**{f"{owner}is_superuser": True}) | Q(Exists(grants))
    allowed = Q(**{f"{owner}isnull": True}) | (Q(**{f"{owner}is_active": True}) & covered)
    return allowed


def with_access(links: QuerySet[ShareLink]) -> QuerySet[ShareLink]:
    """The links annotated `allowed`: whether their owner may still share them."""
    return links.annotate(allowed=ExpressionWrapper(granted_q(), output_field=BooleanField()))


def lost_access(links: QuerySet[ShareLink]) -> QuerySet[ShareLink]:
    return with_access(links).filter(allowed=False)  # type: ignore[misc]


class Identified(Protocol):
    @property
    def id(self) -> int: ...


Link = TypeVar("Link", bound=Identified)


def end_lost_access(links: Sequence[Link]) -> list[Link]:
    """The leased links whose owner may still share them; the others are revoked now (one
    revocation per reason, links.revoked naming it). One query per chunk of the pass."""
    lost = dict(
        lost_access(ShareLink.objects.filter(id_in([link.id for link in links]))).values_list(
            "id", "batch__owner__is_active"
        )
    )
    if not lost:
        return list(links)
    done = 0
    for active, reason in ((False, INACTIVE), (True, UNGRANTED)):
        ids = [link_id for link_id, is_active in lost.items() if bool(is_active) is active]
        if ids:
            done += revoke(ShareLink.objects.filter(id__in=ids), reason=reason).links
    log.warning("refresh: %d due links revoked: their owner's access ended", done)
    metrics.LINKS_ACCESS_ENDED.inc(done)
    return [link for link in links if link.id not in lost]
