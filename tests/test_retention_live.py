"""Retention against the real services: manifests in the S3 bucket, a purge process killed
half-way (SIGKILL) that resumes with no orphans, and ids clients still hold answering 404."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils import timezone

from common.purging import Pace
from notifications.models import Attempt, Delivery, MessageBody, Recipient
from retention import run
from tasks.events.handover import MANIFEST_PREFIX
from tasks.models import Batch, Revocation, ShareLink
from tests.auth import api_client_for
from tests.retention_data import ago, batch, delivery, extras, links

ROOT = Path(__file__).resolve().parent.parent


def purge() -> dict[str, int]:
    tally = run.purge_all(timezone.now(), Pace(chunk=500))
    assert tally is not None and not tally.failures
    return dict(tally.rows)


def keys_under(s3_server, bucket: str, prefix: str) -> list[str]:
    listed = s3_server.client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


@pytest.mark.s3
@pytest.mark.django_db
def test_manifests_of_purged_batches_leave_the_bucket_and_no_others(
    s3_server, media_bucket, put_object
):
    old = batch(bucket=media_bucket)
    links(old, 2)
    kept = batch(bucket=media_bucket)
    links(kept, 1, status="active", refresh_at=ago(1))
    for owner in (old, kept):
        for n in range(3):
            put_object(f"{MANIFEST_PREFIX}{owner.id}/{n}.csv", b"key,url\n")
    # a key that merely starts with the purged batch's id is another batch's business
    put_object(f"{MANIFEST_PREFIX}{old.id}-other/x.csv", b"x")

    assert purge()["manifest"] == 3

    assert keys_under(s3_server, media_bucket, f"{MANIFEST_PREFIX}{old.id}/") == []
    assert len(keys_under(s3_server, media_bucket, f"{MANIFEST_PREFIX}{kept.id}/")) == 3
    assert keys_under(s3_server, media_bucket, f"{MANIFEST_PREFIX}{old.id}-other/")
    assert not Batch.objects.filter(id=old.id).exists()


@pytest.mark.django_db
def test_a_manifest_the_bucket_refuses_keeps_its_batch_for_the_next_run(caplog, monkeypatch):
    from retention import batches

    def refuse(batch, client=None):
        raise RuntimeError("AccessDenied")

    monkeypatch.setattr(batches, "delete_manifests", refuse)
    old = batch()
    links(old, 2)
    tally = run.purge_all(timezone.now(), Pace(chunk=500))
    assert tally is not None and len(tally.failures) == 1
    assert Batch.objects.filter(id=old.id).exists()  # its links went; the row waits
    assert any(r.levelname == "ERROR" and "manifests" in r.getMessage() for r in caplog.records)


def orphans() -> dict[str, int]:
    """Rows whose owner is gone (foreign keys forbid the rest)."""
    unused = MessageBody.objects.exclude(Exists(Delivery.objects.filter(body=OuterRef("pk"))))
    return {"message_body": unused.count()}


@pytest.mark.s3
@pytest.mark.django_db(transaction=True)
def test_a_purge_killed_half_way_resumes_and_leaves_no_orphans(test_database_url, media_bucket):
    live = batch()
    live_links = links(live, 50, status="active", refresh_at=ago(-1), expires_at=ago(-1))
    olds = [batch() for _ in range(4)]
    for old in olds:
        links(old, 1500)
        extras(old)
    bodies = [MessageBody.objects.create(text="{}") for _ in range(100)]
    for n in range(1500):
        delivery(body=bodies[n % 100], attempts=2, to=None)
    due = delivery(status="pending", created=400, body=bodies[0])
    env = {
        **os.environ,
        "TEST_DATABASE_URL": test_database_url,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "RETENTION_CHUNK": "50",
        "RETENTION_DUTY_PERCENT": "50",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "purge"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while ShareLink.objects.filter(batch__in=olds).count() > 3000:  # half-way
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the purge made no progress"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    assert orphans() == {"message_body": 0}
    assert Delivery.objects.count() == 1 + Delivery.objects.filter(status="delivered").count()
    assert Batch.objects.filter(id__in=[b.id for b in olds]).exists()  # really half-way

    purge()

    assert not Batch.objects.filter(id__in=[b.id for b in olds]).exists()
    assert not ShareLink.objects.exclude(batch=live).exists()
    assert ShareLink.objects.filter(batch=live).count() == len(live_links)
    assert list(Delivery.objects.values_list("id", flat=True)) == [due.id]
    assert Attempt.objects.filter(delivery=due).count() == 1
    assert orphans() == {"message_body": 0}
    assert MessageBody.objects.count() == 1


@pytest.mark.django_db
def test_ids_clients_still_hold_answer_404_after_the_purge():
    owner = get_user_model().objects.create_user("holder")
    client = api_client_for(owner)
    old = batch(owner=owner)
    [link] = links(old, 1)
    to = Recipient.objects.create(owner=owner, kind="email", email="h@example.com")
    sent = delivery(to=to)
    revoked = Revocation.objects.create(batch=old, status="done", finished_at=ago(150))
    gets = [
        f"/api/batches/{old.id}/",
        f"/api/batches/{old.id}/links/",
        f"/api/batches/{old.id}/links/?format=csv",
        f"/api/deliveries/{sent.id}/",
        f"/api/revocations/{revoked.id}/",
    ]
    posts = [f"/api/links/{link.id}/revoke/", f"/api/deliveries/{sent.id}/replay/"]
    assert [client.get(url).status_code for url in gets] == [200] * 5

    purge()

    for url in gets:
        answer = client.get(url)
        assert answer.status_code == 404, (url, answer.content)
        if "format=csv" not in url:  # the export answers its 404 as text/csv (not ours)
            assert answer["Content-Type"].startswith("application/json"), url  # the Error body
    for url in posts:
        assert client.post(url, {}, format="json").status_code == 404, url
    assert client.get(f"/l/{link.token}").status_code == 404


@pytest.mark.django_db
def test_metrics_show_rows_per_table_and_rows_purged(client, settings):
    from django.core.cache import cache
    from prometheus_client.parser import text_string_to_metric_families

    settings.METRICS_CACHE_SECONDS = 0
    settings.METRICS_TOKEN = "scrape-token-for-tests"
    cache.clear()

    def scrape() -> dict[tuple[str, str], float]:
        response = client.get(
            "/metrics", headers={"Authorization": f"Bearer {settings.METRICS_TOKEN}"}
        )
        found = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                found[(sample.name, sample.labels.get("table", ""))] = sample.value
        return found

    old = batch()
    links(old, 7)
    before = scrape()
    assert ("linkdist_table_rows", "tasks_sharelink") in before  # an estimate: no exact value
    assert before[("linkdist_table_bytes", "tasks_sharelink")] > 0
    purged_before = before.get(("linkdist_retention_purged_rows_total", "share_link"), 0)

    purge()

    after = scrape()
    assert after[("linkdist_retention_purged_rows_total", "share_link")] - purged_before == 7
    assert after[("linkdist_retention_purged_rows_total", "batch")] >= 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_upkeep_pool_of_the_procfile_runs_the_purge(celery_worker):
    from retention.tasks import purge_expired_records
    from tests.helpers import wait_until

    old = batch()
    links(old, 3)
    ended = delivery(attempts=2)
    live = batch(finished=1)
    links(live, 2, status="active", refresh_at=ago(-1), expires_at=ago(-1))

    purge_expired_records.delay()  # routed to the upkeep queue, as beat sends it

    wait_until(lambda: not Batch.objects.filter(id=old.id).exists(), timeout=90)
    wait_until(lambda: not Delivery.objects.filter(id=ended.id).exists(), timeout=30)
    assert ShareLink.objects.filter(batch=live).count() == 2
