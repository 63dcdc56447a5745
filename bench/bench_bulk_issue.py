"""Bulk issue: a batch through Celery + Redis into PostgreSQL vs the obvious loop.

    python bench/bench_bulk_issue.py [--keys 100000] [--baseline-keys 10000] [--concurrency 2]

The batch path: `create_batch` (keys stored in chunks, queued after commit) and real
prefork worker processes that sign each chunk and bulk-insert its links, timed from
the call until the batch is done. The obvious loop: `default_storage.url(key)` then
one `ShareLink(...).save()` per link. Both write to a scratch database (linkdist_bench,
created and dropped here) on PostgreSQL at 127.0.0.1; Redis must run at 127.0.0.1.
A key list with the existence check off, so no object needs uploading: signing is local.
The loop is timed on a subset (--baseline-keys) and compared as links per second.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
SERVER = "postgres://postgres@127.0.0.1:5432"
DATABASE = "linkdist_bench"


def configure() -> str:
    """Environment shared with the worker processes; returns the database URL."""
    sys.path.insert(0, str(ROOT))
    database_url = f"{SERVER}/{DATABASE}"
    os.environ["TEST_DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"  # S3 test values, PostgreSQL
    os.environ["CELERY_QUEUE_PREFIX"] = f"bench-{uuid.uuid4().hex[:8]}-"
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    return database_url


def recreate_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        admin.execute(f"CREATE DATABASE {DATABASE}")


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def obvious_loop(keys: list[str], expires_in: int) -> float:
    """storage.url() then one save() per link; links per second."""
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from tasks.models import Batch, ShareLink

    batch = Batch.objects.create(source="keys", bucket="baseline", expires_in=expires_in)
    started = time.perf_counter()
    for key in keys:
        url = default_storage.url(key, expire=expires_in)
        now = timezone.now()
        ShareLink(
            batch=batch,
            bucket=batch.bucket,
            key=key,
            url=url,
            issued_at=now,
            expires_at=now + timedelta(seconds=expires_in),
            ttl=expires_in,
        ).save()
    elapsed = time.perf_counter() - started
    assert ShareLink.objects.filter(batch=batch).count() == len(keys)
    return len(keys) / elapsed


def signing_alone(keys: list[str], expires_in: int) -> float:
    """URLs per second of the signing entry point on one core: what bounds a worker process."""
    from tasks.signing.entry import sign

    started = time.perf_counter()
    for key in keys:
        sign(key, expires_in)
    return len(keys) / (time.perf_counter() - started)


def signing_many(keys: list[str], expires_in: int) -> float:
    """The same through sign_many(), the batch form the bulk paths use: it must cost nothing."""
    from tasks.signing.entry import LinkRequest, sign_many

    started = time.perf_counter()
    for _signed in sign_many(LinkRequest(key, expires_in) for key in keys):
        pass
    return len(keys) / (time.perf_counter() - started)


def batch_path(keys: list[str], expires_in: int) -> tuple[float, float]:
    """create_batch and wait for done; (links per second, seconds spent in create_batch)."""
    from tasks.batchspec import BatchRequest
    from tasks.clitools import wait_for
    from tasks.issuing import create_batch
    from tasks.models import ShareLink

    started = time.perf_counter()
    batch = create_batch(BatchRequest(keys=keys, expires_in=expires_in)).batch
    created = time.perf_counter() - started
    batch = wait_for(batch, stall_timeout=300, stream=io.StringIO(), poll=0.05)
    elapsed = time.perf_counter() - started
    assert batch.status == "done", batch.error
    assert ShareLink.objects.filter(batch=batch).count() == len(keys) == batch.signed
    return len(keys) / elapsed, created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--baseline-keys", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    args = parser.parse_args()
    database_url = configure()
    recreate_database()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from tests.services.celery_processes import WorkerProcess

    call_command("migrate", verbosity=0)
    keys = [f"bench/{number:07d}/report.pdf" for number in range(args.keys)]
    worker = WorkerProcess(database_url, settings.QUEUE_BULK, args.concurrency)
    worker.start()
    try:
        baseline = obvious_loop([f"loop/{key}" for key in keys[: args.baseline_keys]], 3600)
        signing = signing_alone(keys[: args.baseline_keys], 3600)
        many = signing_many(keys[: args.baseline_keys], 3600)
        ours, created = batch_path(keys, 3600)
    finally:
        worker.stop()
        drop_database()
    print(
        f"keys: {args.keys:,} in chunks of {settings.LINKS_CHUNK_SIZE:,}; "
        f"{args.concurrency} worker processes; baseline on {args.baseline_keys:,} keys"
    )
    print(f"obvious loop (storage.url + save per link): {baseline:10,.0f} links/s")
    print(
        f"batch via Celery + Redis + bulk insert:    {ours:10,.0f} links/s "
        f"({args.keys / ours:.1f} s end to end, {created:.1f} s of it in create_batch)"
    )
    print(f"ratio: {ours / baseline:.1f}x (target >= 10x)")
    print(f"signing alone, one core (tasks.signing.entry.sign): {signing:,.0f} URLs/s")
    print(
        f"the same through sign_many() (the bulk paths' form): {many:,.0f} URLs/s "
        f"({many / signing:.2f}x sign)"
    )


if __name__ == "__main__":
    main()
