"""A few thousand refreshing links all due together, short links, a slow S3: the real upkeep
pool and beat keep every one alive (issue 19), and no pass loses its lease."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.utils import timezone

from ops import backlog
from tasks.refresh import meter
from tests.batches import unique_prefix
from tests.refresh_helpers import issue_in_process
from tests.services.celery_processes import BeatProcess, WorkerPools
from tests.services.slow_s3 import SlowS3

pytestmark = [pytest.mark.s3, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LINKS = 2500
TTL = 40  # seconds
# The issue's short-link settings, which the minimum-TTL derivation accepts.
SHORT = {
    "LINKS_REFRESH_INTERVAL": "2",
    "LINKS_REFRESH_LEASE": "5",
    "WEBHOOK_TIMEOUT": "3",
    "EMAIL_TIMEOUT": "3",
    "DELIVERY_LEASE_GRACE": "1",
    "LINKS_LAPSE_INTERVAL": "1",
    "LINKS_REFRESH_PARALLEL": "3",  # the upkeep pool's 3 processes
    "LINKS_REFRESH_CHECK_EXISTS": "true",
}


def put_many(client, bucket: str, keys: list[str]) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=bucket, Key=key, Body=b"x"), keys))


def test_links_all_due_together_stay_alive_through_a_slow_s3(
    s3_server, media_bucket, test_database_url
):
    prefix = unique_prefix("keepalive")
    keys = [f"{prefix}{n:05d}.txt" for n in range(LINKS)]
    put_many(s3_server.client, media_bucket, keys)
    with SlowS3(s3_server.endpoint_url, delay=0.3) as slow:
        env = {
            **SHORT,
            "CELERY_QUEUE_PREFIX": f"keepalive-{uuid.uuid4().hex[:8]}-",  # pools of its own
            "DJANGO_AWS_S3_ENDPOINT_URL": slow.url,
        }
        pools = WorkerPools(test_database_url, env, names=("upkeep",)).start()
        beat = BeatProcess(test_database_url, env).start()
        try:
            batch = issue_in_process(keys, expires_in=TTL, refresh=True)
            batch.links.update(refresh_at=timezone.now())  # every link due at once
            most_dead, deadline = 0, time.monotonic() + 2 * TTL
            while time.monotonic() < deadline:
                dead = backlog.dead_awaiting_refresh(timezone.now()).filter(batch=batch)
                most_dead = max(most_dead, dead.count())
                time.sleep(0.5)
        finally:
            beat.stop()
            pools.stop()

    versions = list(batch.links.values_list("version", flat=True))
    assert most_dead == 0, f"{most_dead} links were past their expiry at once"
    assert min(versions) >= 3, "every link re-signed at least twice in two lifetimes"
    assert set(batch.links.values_list("status", flat=True)) == {"active"}
    checks = sum(versions) - len(versions)  # re-signs, each checked
    requests = slow.seen["list"] + slow.seen["head"]
    # The checks went through the slow S3, by listing: links due at the same instant are taken
    # in issue order (claims.IN_ORDER), so each chunk is a run of neighbouring keys that one
    # ListObjectsV2 page answers, not keys scattered over the batch and HEADed one by one.
    # (13 requests for 10,000 checks here; a loaded machine makes chunks smaller.)
    assert slow.seen["list"] >= 1 and requests * 20 < checks, (dict(slow.seen), checks)
    log = pools.log()
    assert "lost their lease" not in log, log[-3000:]
    assert meter.current().lease_lost_at is None
