"""Telling a batch's recipients what happened to some of its links, through the outbox."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from notifications import outbox
from tasks.handover import manifest_writer
from tasks.models import Batch, ShareLink
from tasks.payloads import LINK_ITEM_COLUMNS, link_item
from tasks.permalinks import permalink_maker


def announce(
    event_type: str,
    links: Iterable[tuple[Any, int]],
    *,
    wanted: Callable[[Batch], bool] = lambda batch: True,
) -> int:
    """Publish one event per batch of these (batch id, link id) pairs, with the links' current
    state; the deliveries made.

    Call inside the transaction that changed the links, so both commit or neither.
    """
    by_batch: dict[Any, list[int]] = defaultdict(list)
    for batch_id, link_id in links:
        by_batch[batch_id].append(link_id)
    permalink = permalink_maker()
    made = 0
    batches = Batch.objects.filter(id__in=list(by_batch)).prefetch_related("recipients")
    for batch in batches:
        recipients = list(batch.recipients.all())
        if not recipients or not wanted(batch):
            continue
        rows = ShareLink.objects.filter(id__in=by_batch[batch.id]).order_by("key")
        items = [link_item(row, permalink) for row in rows.only(*LINK_ITEM_COLUMNS).iterator()]
        made += len(
            outbox.publish(
                event_type,
                subject=str(batch.id),
                recipients=recipients,
                items=items,
                manifest=manifest_writer(batch),
            )
        )
    return made
