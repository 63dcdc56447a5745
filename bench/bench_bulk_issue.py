"""Bulk issue: a batch through Celery + Redis into PostgreSQL vs the obvious loop.

    python bench/bench_bulk_issue.py [--keys 100000] [--baseline-keys 10000] [--concurrency 2]
                                     [--rounds 3] [--database linkdist_bench]

The batch path: `create_batch` (keys stored in chunks, queued after commit) and real
prefork worker processes that sign each chunk and bulk-insert its links, timed from
the call until the batch is done. The obvious loop: `default_storage.url(key)` then
one `ShareLink(...).save()` per link. Both write to a scratch database (--database,
created and dropped here) on PostgreSQL at 127.0.0.1; Redis must run at 127.0.0.1.
A key list with the existence check off, so no object needs uploading: signing is local.
The loop is timed on a subset (--baseline-keys) and compared as links per second.

Two floors, in the same run, into the same link table with its indexes and constraints:
- end to end: one process signs the keys through sign_many() and stores the links by one
  binary COPY in one transaction (the least work that turns keys into stored links: no
  queue, no chunks, no checks); bulk/floor is the batch path's rate as a share of it;
- the COPY alone: the rows the batch path wrote (same columns and values, fresh tokens,
  under another batch) handed to PostgreSQL by one binary COPY, timed from the COPY to the
  commit: what storing the links costs at the least, with no signing at all.
Each of --rounds rounds runs the batch path on fresh keys, then the two floors; the figures
are the medians (one run on a shared machine can be a third slower than the next, so each
batch run is compared with the floors measured right after it).
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import scratch  # noqa: E402

DATABASE = "linkdist_bench"
FLOOR_COLUMNS = {
    "batch_id": "uuid",
    "bucket": "varchar",
    "ttl": "int4",
    "version": "int4",
    "status": "varchar",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
    "key": "varchar",
    "url": "text",
    "issued_at": "timestamptz",
    "expires_at": "timestamptz",
    "token": "varchar",
}
COPIED = (
    "bucket, key, filename, url, issued_at, expires_at, ttl, version, status, refresh_until, "
    "refresh_at, hits, revoked_at, created_at, updated_at"
)


def configure(database: str) -> str:
    """Environment shared with the worker processes; returns the database URL."""
    global DATABASE
    DATABASE = database
    database_url = scratch.database_url(DATABASE)
    os.environ["TEST_DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"  # S3 test values, PostgreSQL
    os.environ["CELERY_QUEUE_PREFIX"] = f"bench-{uuid.uuid4().hex[:8]}-"
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    return database_url


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
    from media.signing import sign

    started = time.perf_counter()
    for key in keys:
        sign(key, expires_in)
    return len(keys) / (time.perf_counter() - started)


def signing_many(keys: list[str], expires_in: int) -> float:
    """The same through sign_many(), the batch form the bulk paths use: it must cost nothing."""
    from media.signing import LinkRequest, sign_many

    started = time.perf_counter()
    for _signed in sign_many(LinkRequest(key, expires_in) for key in keys):
        pass
    return len(keys) / (time.perf_counter() - started)


def copy_floor(batch_id: object, count: int) -> float:
    """Links per second of one COPY of the batch's rows (fresh tokens) into the link table."""
    from django.db import connection, transaction

    from tasks.models import Batch, ShareLink

    table = ShareLink._meta.db_table
    source = Batch.objects.get(id=batch_id)
    floor = Batch.objects.create(source="keys", bucket=source.bucket, expires_in=source.expires_in)
    with connection.cursor() as cursor:
        rows = io.BytesIO()
        query = (
            f"COPY (SELECT %s::uuid, md5(id::text || random()::text), {COPIED} "  # noqa: S608
            f"FROM {table} WHERE batch_id = %s) TO STDOUT (FORMAT BINARY)"
        )
        with cursor.cursor.copy(query, [floor.id, source.id]) as copy:
            for data in copy:
                rows.write(data)
        payload = rows.getvalue()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        statement = f"COPY {table} (batch_id, token, {COPIED}) FROM STDIN (FORMAT BINARY)"
        with cursor.cursor.copy(statement) as copy:
            copy.write(payload)
    elapsed = time.perf_counter() - started
    assert ShareLink.objects.filter(batch=floor).count() == count
    return count / elapsed


def sign_and_copy_floor(keys: list[str], expires_in: int) -> float:
    """Links per second of the least work end to end: one process signs every key through
    sign_many() and stores the links by one binary COPY (no queue, no chunks, no checks).
    Written out here, apart from the code it measures."""
    from django.db import connection, transaction
    from django.utils import timezone

    from media.signing import LinkRequest, SignedUrl, sign_many
    from tasks.models import Batch, ShareLink

    batch = Batch.objects.create(source="keys", bucket="floor", expires_in=expires_in)
    table = ShareLink._meta.db_table
    columns = {**FLOOR_COLUMNS}
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    started = time.perf_counter()
    now = timezone.now()
    signed = zip(keys, sign_many(LinkRequest(key, expires_in) for key in keys), strict=True)
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.cursor.copy(statement) as copy,
    ):
        copy.set_types(list(columns.values()))
        for key, url in signed:
            assert isinstance(url, SignedUrl)
            shared = (batch.id, batch.bucket, expires_in, 1, "active", now, now)
            token = secrets.token_urlsafe(24)
            copy.write_row((*shared, key, url.url, url.issued_at, url.expires_at, token))
    elapsed = time.perf_counter() - started
    assert ShareLink.objects.filter(batch=batch).count() == len(keys)
    return len(keys) / elapsed


def batch_path(keys: list[str], expires_in: int) -> tuple[float, float, object]:
    """create_batch and wait for done; (links/s, seconds spent in create_batch, batch id)."""
    from tasks.batches.issuing import create_batch
    from tasks.batches.spec import BatchRequest
    from tasks.management.clitools import wait_for
    from tasks.models import ShareLink

    started = time.perf_counter()
    batch = create_batch(BatchRequest(keys=keys, expires_in=expires_in)).batch
    created = time.perf_counter() - started
    batch = wait_for(batch, stall_timeout=300, stream=io.StringIO(), poll=0.05)
    elapsed = time.perf_counter() - started
    assert batch.status == "done", batch.error
    assert ShareLink.objects.filter(batch=batch).count() == len(keys) == batch.signed
    return len(keys) / elapsed, created, batch.id


@dataclass(frozen=True)
class Round:
    ours: float  # links/s of the batch path
    created: float  # seconds of it in create_batch
    end_to_end: float  # links/s of one process signing all and one binary COPY
    floor: float  # links/s of the binary COPY alone


def one_round(number: int, keys: list[str]) -> Round:
    """The batch path on fresh keys, then the floors (the same count of keys)."""
    keys = [f"r{number}/{key}" for key in keys]
    ours, created, batch_id = batch_path(keys, 3600)
    floor = copy_floor(batch_id, len(keys))
    end_to_end = sign_and_copy_floor([f"floor/{key}" for key in keys], 3600)
    return Round(ours, created, end_to_end, floor)


def median(rounds: list[Round], figure: Callable[[Round], float]) -> float:
    return statistics.median(figure(one) for one in rounds)


def report(rounds: list[Round]) -> None:
    ours = median(rounds, lambda one: one.ours)
    created = median(rounds, lambda one: one.created)
    end_to_end = median(rounds, lambda one: one.end_to_end)
    floor = median(rounds, lambda one: one.floor)
    to_floor = median(rounds, lambda one: one.ours / one.end_to_end)
    to_copy = median(rounds, lambda one: one.ours / one.floor)
    shown = ", ".join(f"{100 * one.ours / one.end_to_end:.0f} %" for one in rounds)
    print(
        f"batch via Celery + Redis + bulk insert:    {ours:10,.0f} links/s "
        f"({created:.1f} s in create_batch; medians of {len(rounds)} rounds)"
    )
    print(f"floor, one process signing all and one binary COPY:       {end_to_end:10,.0f} links/s")
    print(f"floor, the binary COPY alone (the same rows, no signing): {floor:10,.0f} links/s")
    print(f"bulk/floor {100 * to_floor:.0f} % (target >= 80 %; rounds: {shown})")
    print(f"bulk/COPY {100 * to_copy:.0f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--baseline-keys", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--rounds", type=int, default=3, help="batch path + floors, each")
    parser.add_argument("--database", default=DATABASE, help="scratch database (dropped)")
    args = parser.parse_args()
    database_url = configure(args.database)
    scratch.recreate(DATABASE)

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
        rounds = [one_round(number, keys) for number in range(args.rounds)]
    finally:
        worker.stop()
        scratch.drop(DATABASE)
    ours = median(rounds, lambda one: one.ours)
    print(
        f"keys: {args.keys:,} in chunks of {settings.LINKS_CHUNK_SIZE:,}; "
        f"{args.concurrency} worker processes; baseline on {args.baseline_keys:,} keys"
    )
    print(f"obvious loop (storage.url + save per link): {baseline:10,.0f} links/s")
    report(rounds)
    print(f"ratio: {ours / baseline:.1f}x the obvious loop (target >= 10x)")
    print(f"signing alone, one core (media.signing.sign): {signing:,.0f} URLs/s")
    print(
        f"the same through sign_many() (the bulk paths' form): {many:,.0f} URLs/s "
        f"({many / signing:.2f}x sign)"
    )


if __name__ == "__main__":
    main()
