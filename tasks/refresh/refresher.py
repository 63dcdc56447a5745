"""One refresh pass: claim due links in chunks, re-sign them, save, announce `links.refreshed`.

Each chunk is taken (see claims.py), checked (past refresh_until; object deleted, by
a HEAD per key when LINKS_REFRESH_CHECK_EXISTS), re-signed in bulk through the process's
one signer, and saved with its deliveries, all in one transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from common import metrics
from tasks import s3clients
from tasks.listing import missing_keys
from tasks.models import Batch, ShareLink
from tasks.refresh import claims
from tasks.refresh.announce import announce
from tasks.refresh.planner import refresh_planner
from tasks.refresh.policy import keeps_refreshing
from tasks.refresh.resign import Resigned, resign, save
from tasks.signing import factory
from tasks.signing.signer import SigningError

log = logging.getLogger(__name__)


@dataclass
class PassReport:
    due: int = 0  # claimed by this pass
    refreshed: int = 0
    past_until: int = 0  # refresh_until reached: left to lapse
    gone: int = 0  # the object was deleted: left to lapse
    failed: int = 0  # could not be signed (left to lapse) or not for this bucket (postponed)
    deliveries: int = 0
    more: bool = False  # stopped at the limit with links still due


def run_pass(limit: int | None = None) -> PassReport:
    """Refresh due links, chunk by chunk, until none is due or `limit` were claimed."""
    limit = settings.LINKS_REFRESH_PASS_LIMIT if limit is None else limit
    report = PassReport()
    while report.due < limit:
        wanted = min(settings.LINKS_REFRESH_CHUNK, limit - report.due)
        claimed = refresh_chunk(report, wanted)
        if claimed < wanted:
            return report
    report.more = claims.due(timezone.now()).exists()
    return report


def passes_wanted(now: datetime, parallel: int, chunk: int) -> int:
    """How many passes to run at once: one per chunk of due links, up to `parallel`."""
    due_now = claims.due(now)[: parallel * chunk].count()
    return max(1, min(parallel, -(-due_now // chunk)))


def refresh_chunk(report: PassReport, limit: int) -> int:
    now = timezone.now()
    with transaction.atomic():
        links = claims.take(now, limit)
        if not links:
            return 0
        live: list[ShareLink] = []
        past: list[ShareLink] = []
        for link in links:
            (live if keeps_refreshing(True, link.refresh_until, now) else past).append(link)
        foreign = [link for link in live if link.bucket != settings.AWS_STORAGE_BUCKET_NAME]
        if foreign:
            log.error(
                "%d due links are in bucket %r, not the configured %r: not refreshed",
                len(foreign),
                foreign[0].bucket,
                settings.AWS_STORAGE_BUCKET_NAME,
            )
            retry_at = now + timedelta(seconds=settings.LINKS_REFRESH_RETRY_AFTER)
            claims.postpone([link.id for link in foreign], retry_at)
            live = [link for link in live if link.bucket == settings.AWS_STORAGE_BUCKET_NAME]
        gone = absent(live) if settings.LINKS_REFRESH_CHECK_EXISTS else set()
        resigned, unsignable = sign_all([link for link in live if link.id not in gone])
        claims.stop([link.id for link in past] + sorted(gone) + unsignable)
        saved = save(resigned, timezone.now())
        batch_of = {link.id: link.batch_id for link in links}
        report.deliveries += announce("links.refreshed", [(batch_of[i], i) for i in saved])
    report.due += len(links)
    report.refreshed += len(saved)
    report.past_until += len(past)
    report.gone += len(gone)
    report.failed += len(unsignable) + len(foreign)
    count_refreshed(links, saved, now)
    return len(links)


def count_refreshed(links: Sequence[ShareLink], saved: Sequence[int], now: datetime) -> None:
    """Metrics: links re-signed, and those re-signed only after they had expired (dead for a
    while: lapsed without a refresh in time)."""
    resigned = set(saved)
    metrics.LINKS_REFRESHED.inc(len(resigned))
    late = sum(1 for link in links if link.id in resigned and link.expires_at <= now)
    metrics.LAPSED_WITHOUT_REFRESH.inc(late)


def absent(links: Sequence[ShareLink]) -> set[int]:
    """Ids of the links whose object is gone (a HEAD answers 404)."""
    keys: dict[str, list[int]] = defaultdict(list)
    for link in links:
        keys[link.key].append(link.id)
    if not keys:
        return set()
    # All the links are in one bucket: ours.
    missing = missing_keys(s3clients.media_client(), links[0].bucket, list(keys))
    return {link_id for key in missing for link_id in keys[key]}


def sign_all(links: Sequence[ShareLink]) -> tuple[list[Resigned], list[int]]:
    """New signatures, and the ids of links that cannot be signed any more."""
    signer = factory.get_signer()
    batches = Batch.objects.in_bulk({link.batch_id for link in links})
    planners = {batch_id: refresh_planner(batch) for batch_id, batch in batches.items()}
    resigned, unsignable = [], []
    now = timezone.now()
    for link in links:
        try:
            resigned.append(resign(link, planners[link.batch_id], signer, now))
        except SigningError as error:
            log.error("link %s cannot be re-signed: %s", link.id, error)
            unsignable.append(link.id)
    return resigned, unsignable
