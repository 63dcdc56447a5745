"""Batches signed by a real Celery worker process into PostgreSQL, checked against LocalStack."""

from __future__ import annotations

import random
from datetime import timedelta

import psycopg
import pytest
from celery.signals import before_task_publish
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from media.clients import media_client
from media.listing import list_pages
from tasks.batches.issuing import create_batch
from tasks.batches.spec import BatchRequest
from tasks.batches.sweeper import resume_stalled
from tasks.models import Batch, BatchChunk, ShareLink, SkippedKey
from tests.batches import unique_prefix, upload_many, wait_for_batch
from tests.helpers import download, query, wait_until

pytestmark = [pytest.mark.s3, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_prefix_of_2500_objects_gives_exactly_2500_working_links(
    celery_worker, s3_server, media_bucket
):
    prefix = unique_prefix("bulk")
    bodies = {f"{prefix}{number:05d}.txt": f"object {number}\n".encode() for number in range(2500)}
    upload_many(s3_server.client, media_bucket, bodies)
    pages = [len(page) for page in list_pages(media_client(), media_bucket, prefix)]
    assert pages == [1000, 1000, 500]

    batch = wait_for_batch(create_batch(BatchRequest(prefix=prefix, expires_in=900)).batch.id)

    assert (batch.status, batch.total, batch.signed, batch.skipped) == ("done", 2500, 2500, 0)
    links = list(ShareLink.objects.filter(batch=batch))
    assert sorted(link.key for link in links) == sorted(bodies)
    assert len({link.token for link in links}) == 2500
    for link in random.sample(links, 60):
        assert download(link.url).content == bodies[link.key]
        assert query(link.url)["X-Amz-Expires"] == "900"
        assert (link.status, link.version, link.ttl) == ("active", 1, 900)
        assert abs(link.expires_at - (link.issued_at + timedelta(seconds=900))) < timedelta(
            seconds=2
        )


def test_duplicates_are_signed_once_and_a_missing_key_is_reported(celery_worker, put_object):
    prefix = unique_prefix("mixed")
    present = {
        f"{prefix}a.txt": b"alpha",
        f"{prefix}sub/b.csv": b"beta",
        f"{prefix}c d.bin": b"\x00c",
    }
    for key, body in present.items():
        put_object(key, body)
    gone = f"{prefix}not-there.txt"
    a, b, c = present
    keys = [a, b, a, gone, b, c, a]

    created = create_batch(
        BatchRequest(keys=keys, expires_in=600, check_existence=True, filename_from_key=True)
    )
    batch = wait_for_batch(created.batch.id)

    assert (batch.status, batch.total, batch.signed, batch.skipped) == ("done", 4, 3, 1)
    links = {link.key: link for link in ShareLink.objects.filter(batch=batch)}
    assert sorted(links) == sorted(present)
    for key, body in present.items():
        response = download(links[key].url)
        assert response.content == body
        assert key.rsplit("/", 1)[-1] in response.headers["Content-Disposition"]
    report = list(SkippedKey.objects.filter(batch=batch).values_list("key", "reason"))
    assert report == [(gone, "missing")]


def test_a_batch_whose_chunks_all_fail_ends_failed_with_the_reason(celery_worker):
    # The workers sign for the configured bucket; this batch names another one.
    with override_settings(AWS_STORAGE_BUCKET_NAME="some-other-bucket", LINKS_CHUNK_SIZE=2):
        created = create_batch(BatchRequest(keys=["a", "b", "c", "d", "e"], expires_in=60))

    batch = wait_for_batch(created.batch.id)

    assert batch.status == "failed"
    assert batch.error.startswith("all 3 chunks failed: ")
    assert "'some-other-bucket'" in batch.error
    assert (batch.signed, batch.failed) == (0, 5)
    assert not ShareLink.objects.filter(batch=batch).exists()


def test_a_chunk_that_hits_a_transient_failure_is_retried(celery_worker):
    # Hold a lock that blocks link inserts: the chunk's transaction gives up after
    # LINKS_LOCK_TIMEOUT (a transient database error) and the task is retried.
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"], host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"]
    ) as locker:
        locker.execute("LOCK TABLE tasks_sharelink IN SHARE MODE")
        created = create_batch(BatchRequest(keys=["r/1", "r/2", "r/3"], expires_in=60))
        chunk = BatchChunk.objects.get(batch=created.batch)
        wait_until(lambda: BatchChunk.objects.get(id=chunk.id).attempts >= 1, timeout=30)
        chunk.refresh_from_db()
        assert "lock timeout" in chunk.error
        locker.rollback()

    batch = wait_for_batch(created.batch.id)

    chunk.refresh_from_db()
    assert batch.status == "done"
    assert (chunk.status, chunk.error) == ("done", "")
    assert sorted(ShareLink.objects.filter(batch=batch).values_list("key", flat=True)) == [
        "r/1",
        "r/2",
        "r/3",
    ]


def test_chunks_are_queued_only_once_the_batch_is_committed(celery_worker):
    published: list[str] = []

    def note(sender: str, **kwargs: object) -> None:
        published.append(sender)

    before_task_publish.connect(note)
    try:
        with transaction.atomic():
            created = create_batch(BatchRequest(keys=["q/1", "q/2"], expires_in=60))
            assert published == []
        assert published == ["tasks.sign_chunk"]
    finally:
        before_task_publish.disconnect(note)
    assert wait_for_batch(created.batch.id).signed == 2


@override_settings(LINKS_CHUNK_SIZE=200)
def test_killing_the_worker_mid_batch_loses_and_duplicates_nothing(celery_worker):
    keys = [f"kill/{number:05d}.bin" for number in range(30_000)]
    created = create_batch(BatchRequest(keys=keys, expires_in=3600))
    batch_id = created.batch.id
    wait_until(lambda: Batch.objects.get(id=batch_id).signed > 0, timeout=60, interval=0.02)

    celery_worker.kill()  # SIGKILL: the main process and its pool children

    batch = Batch.objects.get(id=batch_id)
    assert batch.status == "signing" and 0 < batch.signed < batch.total
    celery_worker.start()
    # The killed worker's messages stay unacknowledged in Redis (its retries' ETA messages
    # too); the sweeper, run by beat every minute, queues every chunk still pending. Here it
    # runs every 2 s with no age limit, as beat would over a longer wait.
    resumed = resume_stalled(timezone.now(), older_than=timedelta(0))
    assert resumed.chunks > 0

    def swept_until_finished() -> Batch | None:
        resume_stalled(timezone.now(), older_than=timedelta(0))
        batch = Batch.objects.get(id=batch_id)
        return batch if batch.status in ("done", "failed") else None

    batch = wait_until(swept_until_finished, timeout=180, interval=2, what="the batch to finish")

    assert (batch.status, batch.total, batch.signed) == ("done", 30_000, 30_000)
    links = ShareLink.objects.filter(batch=batch)
    assert links.count() == 30_000
    assert set(links.values_list("key", flat=True)) == set(keys)
