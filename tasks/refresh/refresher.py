"""One refresh pass: lease due links in chunks, re-sign them, save, announce `links.refreshed`.

Each chunk is leased (see claims.py), then prepared with no transaction open: checked (past
refresh_until; object deleted, by media/existence.py when LINKS_REFRESH_CHECK_EXISTS), re-signed
in bulk through the process's one signer, and the manifests of large emails uploaded; the lease
is renewed between these steps (lease.py), and chunks are sized from the rate the pass measures
so one step fits in the lease. Then one short transaction saves the links still leased and
publishes their deliveries; re-signed links it could not save because their lease ran out are
an ERROR, a metric and a /healthz failure (lost_leases). When a link
was revoked in between and a prepared manifest no longer matches, the chunk is prepared again
for the links still leased (a few times; then they wait for their lease to end).
"""

from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from common import metrics
from common.dbops import atomic_with_lock_timeout
from media import clients as s3clients
from media.existence import missing_keys
from media.signing import SigningError, sign_many
from tasks.events.announce import PreparedManifest, StaleManifest, announce, prepare_manifests
from tasks.events.payloads import link_item
from tasks.models import Batch, ShareLink
from tasks.permalinks.serving import permalink_maker
from tasks.refresh import claims, meter
from tasks.refresh.claims import DueLink
from tasks.refresh.lease import Lease, chunk_size, length
from tasks.refresh.planner import refresh_planner
from tasks.refresh.policy import keeps_refreshing
from tasks.refresh.resign import Resigned, new_signature, resign_requests, save
from tasks.revocation import owners

log = logging.getLogger(__name__)
PREPARE_TRIES = 3


@dataclass
class PassReport:
    due: int = 0  # claimed by this pass
    refreshed: int = 0
    past_until: int = 0  # refresh_until reached: left to lapse
    gone: int = 0  # the object was deleted: left to lapse
    failed: int = 0  # could not be signed (left to lapse) or not for this bucket (postponed)
    deliveries: int = 0
    access_ended: int = 0  # revoked, not refreshed: the owner lost access (refresh/owners.py)
    more: bool = False  # stopped at the limit with links still due


@dataclass
class Plan:
    """What a chunk comes to, worked out with no transaction open."""

    lease: Lease
    batch_of: dict[int, Any]
    past: list[int] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)
    unsignable: list[int] = field(default_factory=list)
    foreign: list[int] = field(default_factory=list)
    resigned: list[Resigned] = field(default_factory=list)
    manifests: dict[Any, PreparedManifest] = field(default_factory=dict)
    expired: set[int] = field(default_factory=set)  # already past expires_at when prepared


def run_pass(limit: int | None = None) -> PassReport:
    """Refresh due links, chunk by chunk, until none is due or `limit` were claimed. Chunks are
    sized from the rate this pass measures (lease.chunk_size)."""
    limit = settings.LINKS_REFRESH_PASS_LIMIT if limit is None else limit
    report = PassReport()
    rate = meter.pass_rate()
    while report.due < limit:
        wanted = min(chunk_size(rate), limit - report.due)
        started = time.monotonic()
        claimed = refresh_chunk(report, wanted)
        rate = measure(claimed, time.monotonic() - started, rate)
        if claimed < wanted:
            return report
    report.more = claims.due(timezone.now()).exists()
    return report


def measure(links: int, seconds: float, rate: float) -> float:
    """The pass's rate after this chunk; recorded for the margin, capacity and /healthz."""
    meter.record_chunk(links, seconds, timezone.now())
    if links < min(meter.MIN_SAMPLE, settings.LINKS_REFRESH_CHUNK) or seconds <= 0:
        return rate
    return links / seconds


def passes_wanted(now: datetime, parallel: int, chunk: int) -> int:
    """How many passes to run at once: one per chunk of due links, up to `parallel`."""
    due_now = claims.due(now)[: parallel * chunk].count()
    return max(1, min(parallel, -(-due_now // chunk)))


def refresh_chunk(report: PassReport, limit: int) -> int:
    now = timezone.now()
    until = now + length()
    links, lease = claims.take(now, limit, until)
    report.due += len(links)
    work = owners.end_lost_access(links)  # the others are revoked, with links.revoked
    report.access_ended += len(links) - len(work)
    for _ in range(PREPARE_TRIES):
        if not work:
            break
        plan = prepare(work, lease)
        try:
            commit(plan, report)
            break
        except StaleManifest as error:
            log.info("refresh: %s; preparing the chunk again", error)
            work = claims.held(lease)
    return len(links)


def prepare(links: Sequence[DueLink], lease: Lease) -> Plan:
    """Sort, check and re-sign the leased links, and upload large emails' manifests; the
    lease is renewed between these steps."""
    now = timezone.now()
    plan = Plan(lease, {link.id: link.batch_id for link in links})
    live = [link for link in links if keeps_refreshing(True, link.refresh_until, now)]
    alive = {link.id for link in live}
    plan.past = [link.id for link in links if link.id not in alive]
    ours = settings.AWS_STORAGE_BUCKET_NAME
    plan.foreign = [link.id for link in live if link.bucket != ours]
    if plan.foreign:
        log.error(
            "%d due links are in another bucket than %r: not refreshed", len(plan.foreign), ours
        )
    live = [link for link in live if link.bucket == ours]
    gone, resigned, unsignable = check_and_sign(live, lease)
    lease.keep()
    plan.gone = sorted(gone)
    plan.expired = {link.id for link in live if link.expires_at <= now}
    plan.resigned = [new for new in resigned if new.id not in gone]
    plan.unsignable = [link_id for link_id in unsignable if link_id not in gone]
    plan.manifests = prepare_manifests(
        [(plan.batch_of[r.id], r.id) for r in plan.resigned],
        lambda: planned_items(live, plan.resigned),
    )
    lease.keep()
    return plan


def commit(plan: Plan, report: PassReport) -> None:
    """Save what is still leased and publish it, in one short transaction."""
    now = timezone.now()
    retry_at = now + timedelta(seconds=settings.LINKS_REFRESH_RETRY_AFTER)
    with atomic_with_lock_timeout(settings.LINKS_LOCK_TIMEOUT):
        ours = set(claims.release(plan.lease))
        claims.stop([i for i in plan.past + plan.gone + plan.unsignable if i in ours])
        claims.postpone([i for i in plan.foreign if i in ours], retry_at)
        saved = save([new for new in plan.resigned if new.id in ours], now)
        pairs = [(plan.batch_of[link_id], link_id) for link_id in saved]
        deliveries = announce("links.refreshed", pairs, manifests=plan.manifests)
    count_refreshed(saved, plan.expired)
    if len(saved) < len(plan.resigned):
        lost_leases(plan, set(saved), now)
    report.refreshed += len(saved)
    report.deliveries += deliveries
    report.past_until += len(plan.past)
    report.gone += len(plan.gone)
    report.failed += len(plan.unsignable) + len(plan.foreign)


def lost_leases(plan: Plan, saved: set[int], now: datetime) -> None:
    """Links re-signed but not saved, still active: their lease ran out (another pass may have
    taken them). Said loudly: an ERROR naming the settings, a metric, /healthz."""
    unsaved = [r.id for r in plan.resigned if r.id not in saved]
    lost = claims.still_active(unsaved)
    if not lost:
        return  # revoked (or lapsed) meanwhile: nothing was lost
    metrics.REFRESH_LEASES_LOST.inc(lost)
    meter.record_lost(lost, now)
    log.error(
        "refresh: %d re-signed links of a chunk of %d lost their lease before they were saved "
        "(renewed %d times); they are refreshed again when due. Preparing the chunk outlived "
        "LINKS_REFRESH_LEASE (%s s): raise it, or lower LINKS_REFRESH_CHUNK (%s)",
        lost,
        len(plan.batch_of),
        plan.lease.renewals,
        settings.LINKS_REFRESH_LEASE,
        settings.LINKS_REFRESH_CHUNK,
    )


def count_refreshed(saved: Sequence[int], expired: set[int]) -> None:
    """Metrics: links re-signed, and those re-signed only after they had expired (dead for a
    while: lapsed without a refresh in time)."""
    metrics.LINKS_REFRESHED.inc(len(saved))
    metrics.LAPSED_WITHOUT_REFRESH.inc(len(expired.intersection(saved)))


def planned_items(
    links: Sequence[DueLink], resigned: Sequence[Resigned]
) -> dict[Any, list[dict[str, Any]]]:
    """The re-signed links as their event will show them, by batch (for the manifests)."""
    by_id = {link.id: link for link in links}
    permalink = permalink_maker()
    items: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for new in sorted(resigned, key=lambda r: by_id[r.id].key):
        old = by_id[new.id]
        shown = ShareLink(
            id=old.id,
            key=old.key,
            url=new.url,
            expires_at=new.expires_at,
            token=old.token,
            filename=old.filename,
        )
        items[old.batch_id].append(link_item(shown, permalink))
    return items


def check_and_sign(
    links: Sequence[DueLink], lease: Lease
) -> tuple[set[int], list[Resigned], list[int]]:
    """(ids of the links whose object is gone, new signatures of the others, ids not signable).

    The S3 check (when LINKS_REFRESH_CHECK_EXISTS) runs first, then the signing, on this
    thread: run side by side on two threads they fought over the GIL (the listing's many
    small socket reads each waited for the signing loop to yield it), and a chunk took 3-5
    times as long as the two in turn (docs/performance.md, keep-alive)."""
    gone = absent(links) if settings.LINKS_REFRESH_CHECK_EXISTS else set()
    lease.keep()
    resigned, unsignable = sign_all([link for link in links if link.id not in gone])
    return gone, resigned, unsignable


def absent(links: Sequence[DueLink]) -> set[int]:
    """Ids of the links whose object is gone (S3 I/O only: it runs on a thread)."""
    keys: dict[str, list[int]] = defaultdict(list)
    for link in links:
        keys[link.key].append(link.id)
    if not keys:
        return set()
    # All the links are in one bucket: ours.
    missing = missing_keys(s3clients.existence_client(), links[0].bucket, list(keys))
    return {link_id for key in missing for link_id in keys[key]}


def sign_all(links: Sequence[DueLink]) -> tuple[list[Resigned], list[int]]:
    """New signatures through sign_many(), and the ids of links that cannot be signed any more."""
    batches = Batch.objects.in_bulk({link.batch_id for link in links})
    capacity = meter.capacity()
    # Signatures are made in whole seconds with the batch's TTL, so a chunk's links share a
    # handful of (issued_at, expires_at): each batch's next refresh time is worked out once
    # for each (the same answers; made per link, ~6 % of a pass's time in a profile).
    planners = {
        batch_id: functools.lru_cache(maxsize=64)(refresh_planner(batch, capacity))
        for batch_id, batch in batches.items()
    }
    requests = resign_requests(links, timezone.now())
    new, unsignable = [], []
    for link, signed in zip(links, sign_many(requests), strict=True):
        if isinstance(signed, SigningError):
            log.error("link %s cannot be re-signed: %s", link.id, signed)
            unsignable.append(link.id)
        else:
            new.append(new_signature(link, signed, planners[link.batch_id]))
    return new, unsignable
