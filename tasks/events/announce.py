"""Telling a batch's recipients what happened to some of its links, through the outbox.

An email about more than EMAIL_LINK_LIMIT links carries a CSV manifest stored in S3. Callers
that hold row locks upload it first, outside their transaction (prepare_manifests), and
publish with it; if the links changed in between, publishing raises StaleManifest and the
caller's transaction rolls back, so no email lists links it should not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from common.idlists import id_in
from notifications import outbox
from notifications.models import Recipient
from tasks.events.handover import manifest_writer
from tasks.events.payloads import LINK_ITEM_COLUMNS, link_item
from tasks.models import Batch, ShareLink
from tasks.permalinks.serving import permalink_maker

Items = Sequence[dict[str, Any]]
Manifest = Callable[[Items], str]


class StaleManifest(RuntimeError):
    """The links to announce are not those whose manifest was uploaded."""


@dataclass(frozen=True)
class PreparedManifest:
    url: str
    links: tuple[tuple[int, str], ...]  # (id, url) of the links it lists


def listed(items: Items) -> tuple[tuple[int, str], ...]:
    return tuple(sorted((item["id"], item["url"]) for item in items))


def group(links: Iterable[tuple[Any, int]]) -> dict[Any, list[int]]:
    by_batch: dict[Any, list[int]] = defaultdict(list)
    for batch_id, link_id in links:
        by_batch[batch_id].append(link_id)
    return by_batch


def batch_items(
    batch: Batch, link_ids: Sequence[int], permalink: Callable[[str], str | None]
) -> list[dict[str, Any]]:
    rows = ShareLink.objects.filter(id_in(link_ids)).order_by("key")
    return [link_item(row, permalink) for row in rows.only(*LINK_ITEM_COLUMNS).iterator()]


def emails_to(batch: Batch) -> bool:
    return any(r.kind == Recipient.Kind.EMAIL for r in batch.recipients.all())


def prepare_manifests(
    links: Iterable[tuple[Any, int]], items: Callable[[], Mapping[Any, Items]] | None = None
) -> dict[Any, PreparedManifest]:
    """Upload the manifests that emails about these links will carry; call with no lock held.

    items: makes the links as they will be announced, by batch (default: as stored now);
    called only when some batch's email needs a manifest.
    """
    by_batch = group(links)
    permalink = permalink_maker()
    prepared = {}
    batches = Batch.objects.filter(id__in=list(by_batch)).prefetch_related("recipients")
    made: Mapping[Any, Items] | None = None
    for batch in batches:
        if len(by_batch[batch.id]) <= settings.EMAIL_LINK_LIMIT or not emails_to(batch):
            continue
        if items is not None and made is None:
            made = items()
        shown = made[batch.id] if made is not None else None
        shown = shown or batch_items(batch, by_batch[batch.id], permalink)
        prepared[batch.id] = PreparedManifest(manifest_writer(batch)(shown), listed(shown))
    return prepared


def manifest_for(batch: Batch, manifests: dict[Any, PreparedManifest] | None) -> Manifest:
    if manifests is None:
        return manifest_writer(batch)  # uploaded now, in the caller's transaction

    def prepared(items: Items) -> str:
        made = manifests.get(batch.id)
        if made is None or made.links != listed(items):
            raise StaleManifest(f"the links of batch {batch.id} changed since their manifest")
        return made.url

    return prepared


def announce(
    event_type: str,
    links: Iterable[tuple[Any, int]],
    *,
    wanted: Callable[[Batch], bool] = lambda batch: True,
    manifests: dict[Any, PreparedManifest] | None = None,
    reason: str | None = None,
) -> int:
    """Publish one event per batch of these (batch id, link id) pairs, with the links' current
    state; the deliveries made.

    Call inside the transaction that changed the links, so both commit or neither. With
    `manifests` (from prepare_manifests) no S3 call is made here. `reason`: why, when the
    event says (links.revoked because the owner's access ended).
    """
    by_batch = group(links)
    permalink = permalink_maker()
    made = 0
    batches = Batch.objects.filter(id__in=list(by_batch)).prefetch_related("recipients")
    for batch in batches:
        recipients = list(batch.recipients.all())
        if not recipients or not wanted(batch):
            continue
        made += len(
            outbox.publish(
                event_type,
                subject=str(batch.id),
                recipients=recipients,
                items=batch_items(batch, by_batch[batch.id], permalink),
                manifest=manifest_for(batch, manifests),
                reason=reason,
            )
        )
    return made
