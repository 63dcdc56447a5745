"""Soak: no endpoint, batch or tenant makes anyone else's links lapse.

Real worker pools and beat, started from the Procfile's lines with the short-TTL knobs
turned down; LocalStack S3; loopback receivers.
- tenant A: a refreshing batch of short-lived links (40 s), delivered to a consumer that
  verifies each webhook and fetches every link it holds every second;
- tenant B: a refreshing batch to three endpoints that misbehave: one drips its answer a
  byte at a time, one never answers, one answers 500 to everything;
- tenant C: a large batch to sign;
- the deliveries and quarantine pools are SIGKILLed once (while B's sends, which failed
  before and so run in quarantine, are in flight) and restarted.
Every one of A's fetches must succeed: nothing lapsed, nothing refused, and no webhook-id
reached A twice.
"""

from __future__ import annotations

import os
import time

import pytest

from notifications.models import Recipient
from tasks.batches.issuing import create_batch
from tasks.batches.spec import BatchRequest
from tasks.models import Batch, ShareLink
from tests.batches import unique_prefix
from tests.helpers import wait_until
from tests.services.celery_processes import PoolProcess, WorkerPools
from tests.services.drip import DripServer
from tests.services.verifying import VerifyingConsumer

pytestmark = [
    pytest.mark.s3,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(600),
]

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "100"))
TTL = 40
KNOBS = {
    "LINKS_REFRESH_INTERVAL": "1",
    "LINKS_LAPSE_INTERVAL": "1",
    "DELIVERY_SWEEP_INTERVAL": "1",
    "DELIVERY_REQUEUE_AFTER": "3",
    "DELIVERY_LEASE_GRACE": "1",
    "DELIVERY_BREAKER_BACKOFF": "5s,10s,20s",
    "DELIVERIES_CONCURRENCY": "8",  # small on purpose: the misbehaving endpoints must not fill it
    "QUARANTINE_CONCURRENCY": "4",
    "SCHEDULES_TICK_INTERVAL": "5",
}


def test_slow_failing_and_busy_neighbours_never_make_a_link_lapse(
    celery_worker, put_object, test_database_url
):
    celery_worker.stop()  # this test's pools, with its knobs, are the only ones on the queues
    pools = WorkerPools(test_database_url, KNOBS)
    beat = PoolProcess(test_database_url, "beat", KNOBS)
    consumer = VerifyingConsumer(interval=1.0).start()
    bad = [DripServer(mode).start() for mode in ("status", "hang", "error")]
    bad_urls = [server.url for server in bad]
    try:
        pools.start()
        beat.start()
        a_keys = upload(put_object, "tenant-a", 20)
        b_keys = upload(put_object, "tenant-b", 5)
        tenant_a = create_batch(
            BatchRequest(
                keys=a_keys, expires_in=TTL, refresh=True, recipients=[{"webhook": consumer.url}]
            )
        )
        consumer.set_secret(tenant_a.secrets[0][1])
        tenant_b = create_batch(
            BatchRequest(
                keys=b_keys,
                expires_in=TTL,
                refresh=True,
                recipients=[{"webhook": url} for url in bad_urls],
            )
        )
        tenant_c = create_batch(
            BatchRequest(keys=[f"tenant-c/{n:06d}.pdf" for n in range(30000)], expires_in=3600)
        )
        wait_until(lambda: len(consumer.links) == 20, timeout=60, what="A's links issued")
        started = time.monotonic()

        time.sleep(min(30, SOAK_SECONDS / 3))
        wait_until(lambda: quiet_since(consumer, 1.5), timeout=30, what="a pause in A's events")
        for name in ("deliveries", "quarantine"):  # B's sends are in flight; A's lane is idle
            pools[name].kill()
            pools[name].start()

        time.sleep(max(0.0, SOAK_SECONDS - (time.monotonic() - started)))
    finally:
        consumer.stop()
        beat.stop()
        pools.stop()
        for server in bad:
            server.stop()
        celery_worker.start()

    batch_a = Batch.objects.get(id=tenant_a.batch.id)
    print("tenant A:", consumer.summary())
    assert consumer.failures == []
    assert consumer.refused == []  # every fetch succeeded
    assert consumer.fetches >= 20 * SOAK_SECONDS / 5  # it fetched every link all along
    refreshed = [t for _, t in consumer.events if t == "links.refreshed"]
    assert len(refreshed) >= SOAK_SECONDS // (TTL / 2) - 1  # A was refreshed all along
    assert not ShareLink.objects.filter(batch=batch_a, status=ShareLink.Status.LAPSED).exists()
    assert consumer.duplicates == []  # no webhook-id twice
    assert min(ShareLink.objects.filter(batch=batch_a).values_list("version", flat=True)) > 2
    # B's endpoints were tried, cut off and backed off; C's batch was signed meanwhile
    assert all(server.requests for server in bad)
    assert Batch.objects.get(id=tenant_c.batch.id).signed == 30000
    assert Batch.objects.get(id=tenant_b.batch.id).status != Batch.Status.FAILED
    # the bulkhead: B's endpoints were retried in quarantine, A was never sent from there
    quarantine = pools["quarantine"].log()
    for url in bad_urls:
        [recipient] = Recipient.objects.filter(url=url)
        assert f"to webhook #{recipient.id}, attempt" in quarantine, url
    a_recipient = Recipient.objects.get(id=tenant_a.batch.recipients.get().id)
    assert f"webhook #{a_recipient.id}," not in quarantine
    assert f"webhook #{a_recipient.id} " not in quarantine


def upload(put_object, tenant: str, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    prefix = unique_prefix(tenant)
    return [put_object(f"{prefix}{n:03d}.txt", f"{tenant} {n}".encode()) for n in range(count)]


def quiet_since(consumer: VerifyingConsumer, seconds: float) -> bool:
    last = consumer.receiver.requests[-1].at if consumer.receiver.requests else 0.0
    return time.time() - last > seconds
