"""Refresh: one million links in PostgreSQL, 1 % due — the due query's plan and the pass rate,
with the existence check off and on.

    python bench/bench_refresh.py [--links 1000000] [--due-percent 1] [--baseline-links 2000]
                                  [--concurrency 2] [--database linkdist_bench_refresh]

Rows are loaded by COPY into a scratch database (created and dropped here) on PostgreSQL at
127.0.0.1; the due links' objects are put in LocalStack (127.0.0.1:4566) under one prefix.
Prints EXPLAIN (ANALYZE) of the pass's due query, then times one refresh pass in-process (take
and lease, re-sign through the signing entry point's signer, bulk save, in chunks of
LINKS_REFRESH_CHUNK) with the existence check off, the same links again with it on (S3
requests counted), then as many links refreshed by the beat task on real worker processes
(Redis broker) with the check off and on; against the obvious loop (`storage.url()` or
`sign()`, then `save()`, per link) on a subset, and the existence check alone by listing
against a HEAD per key on 8 threads (the check before issue 19), in the same run.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import scratch  # noqa: E402

DATABASE = "linkdist_bench_refresh"


def configure(database: str) -> None:
    global DATABASE
    DATABASE = database
    os.environ["TEST_DATABASE_URL"] = scratch.recreate(DATABASE)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    os.environ["LINKS_REFRESH_CHECK_EXISTS"] = "false"


def load(count: int, due_every: int) -> object:
    """A refreshing batch of `count` links, one in `due_every` already due; by COPY."""
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from tasks.models import Batch, ShareLink

    batch = Batch.objects.create(
        source="keys", bucket=settings.AWS_STORAGE_BUCKET_NAME, expires_in=3600, refresh=True
    )
    now = timezone.now()
    columns = (
        "batch_id, bucket, key, url, issued_at, expires_at, ttl, version, status, token, "
        "refresh_at, created_at, updated_at"
    )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        table = ShareLink._meta.db_table
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for number in range(count):
                due = number % due_every == 0
                # due in key order, a microsecond apart, as a batch's chunks come due
                soon = now - timedelta(seconds=5) + timedelta(microseconds=number)
                refresh_at = soon if due else now + timedelta(hours=1)
                issued = now - timedelta(minutes=50) if due else now
                copy.write_row(
                    (
                        batch.id,
                        batch.bucket,
                        key_of(number),
                        "https://example.invalid/old",
                        issued,
                        issued + timedelta(hours=1),
                        3600,
                        1,
                        "active",
                        secrets.token_urlsafe(24),
                        refresh_at,
                        now,
                        now,
                    )
                )
        cursor.execute(f"ANALYZE {table}")
    print(f"loaded {count:,} links by COPY in {time.perf_counter() - started:.1f} s")
    return batch


def key_of(number: int) -> str:
    return f"bench/reports/{number:07d}.pdf"


def put_due_objects(batch: object) -> list[str]:
    """The due links' objects, in the media bucket (LocalStack)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.conf import settings
    from django.utils import timezone

    from media import clients as s3clients
    from tasks.models import ShareLink

    client = s3clients.media_client()
    bucket = settings.AWS_STORAGE_BUCKET_NAME
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)
    due = ShareLink.objects.filter(batch=batch, refresh_at__lte=timezone.now())
    keys = list(due.values_list("key", flat=True))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=bucket, Key=key, Body=b"x"), keys))
    print(f"put {len(keys):,} objects in LocalStack in {time.perf_counter() - started:.1f} s")
    return keys


class Requests:
    """S3 requests sent by a client, by operation (botocore's event hooks)."""

    def __init__(self, client: object) -> None:
        from collections import Counter

        self.seen: Counter[str] = Counter()
        client.meta.events.register("before-call.s3", self.count)  # type: ignore[attr-defined]

    def count(self, model: object, **kwargs: object) -> None:
        self.seen[model.name] += 1  # type: ignore[attr-defined]


def due_again(ids: list[int]) -> None:
    """These links due again, in key order (as a batch's links come due: planner.py)."""
    from django.db import connection

    from tasks.models import ShareLink

    table = ShareLink._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS l SET refresh_at = now() - interval '5 s' "  # noqa: S608 - constants
            "+ r.rank * interval '1 microsecond' FROM (SELECT id, row_number() OVER "
            f"(ORDER BY key) AS rank FROM {table} WHERE id = ANY(%s)) AS r WHERE l.id = r.id",
            [ids],
        )


def existence_alone(keys: list[str]) -> tuple[float, float, int]:
    """Seconds to check the keys by listing, then by a HEAD per key on 8 threads; LIST count."""
    from concurrent.futures import ThreadPoolExecutor

    from django.conf import settings

    from media import clients as s3clients
    from media import existence

    client, bucket = s3clients.media_client(), settings.AWS_STORAGE_BUCKET_NAME
    requests = Requests(client)
    started = time.perf_counter()
    assert not existence.missing_keys(client, bucket, keys)
    listing = time.perf_counter() - started
    lists = requests.seen["ListObjectsV2"]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(lambda key: existence.exists(client, bucket, key), keys))
    return listing, time.perf_counter() - started, lists


def explain_due_query() -> str:
    from django.db import connection
    from django.utils import timezone

    from tasks.refresh import claims

    query = claims.due(timezone.now()).order_by(*claims.IN_ORDER).values("id")[:1000]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def refresh_pass(check: bool) -> tuple[list[int], float, dict[str, int]]:
    """One pass over the due links: their ids, seconds, S3 requests by operation."""
    from django.test import override_settings
    from django.utils import timezone

    from media import clients as s3clients
    from tasks.models import ShareLink
    from tasks.refresh import refresher

    ids = list(
        ShareLink.objects.filter(refresh_at__lte=timezone.now()).values_list("id", flat=True)
    )
    requests = Requests(s3clients.media_client())
    with override_settings(LINKS_REFRESH_CHECK_EXISTS=check):
        started = time.perf_counter()
        report = refresher.run_pass(limit=10**9)
        elapsed = time.perf_counter() - started
    assert report.refreshed == report.due == len(ids), report
    return ids, elapsed, dict(requests.seen)


def through_workers(ids: list[int], concurrency: int, check: bool) -> float:
    """These links made due again, refreshed by the beat task on real worker processes."""
    from django.conf import settings

    from tasks import tasks
    from tasks.models import ShareLink
    from tests.services.celery_processes import WorkerProcess

    version = ShareLink.objects.filter(id=ids[0]).values_list("version", flat=True).get()
    due_again(ids)
    database_url = os.environ["TEST_DATABASE_URL"]
    os.environ["LINKS_REFRESH_CHECK_EXISTS"] = "true" if check else "false"
    worker = WorkerProcess(database_url, settings.QUEUE_UPKEEP, concurrency)
    worker.start()
    try:
        started = time.perf_counter()
        tasks.refresh_links.delay()
        while ShareLink.objects.filter(id__in=ids, version=version).exists():
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        worker.stop()
    return len(ids) / elapsed


def obvious_loop(batch: object, count: int, use_storage: bool) -> float:
    """A URL + save() per link, on links that were not due; links per second.

    use_storage: `default_storage.url()` (boto3's presigner), as the bulk-issue baseline;
    else the project's own fast sign().
    """
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from media.signing import sign
    from tasks.models import ShareLink

    links = list(ShareLink.objects.filter(batch=batch, version=1)[:count])
    started = time.perf_counter()
    for link in links:
        now = timezone.now()
        if use_storage:
            link.url = default_storage.url(link.key, expire=link.ttl)
            link.expires_at = now + timedelta(seconds=link.ttl)
        else:
            signed = sign(link.key, link.ttl, filename=link.filename)
            link.url, link.expires_at = signed.url, signed.expires_at
        link.issued_at = now
        link.version += 1
        link.save()
    return len(links) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--links", type=int, default=1_000_000)
    parser.add_argument("--due-percent", type=float, default=1.0)
    parser.add_argument("--baseline-links", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--database", default=DATABASE, help="scratch database (dropped)")
    args = parser.parse_args()
    configure(args.database)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from tasks.models import ShareLink

    call_command("migrate", verbosity=0)
    try:
        batch = load(args.links, round(100 / args.due_percent))
        due = ShareLink.objects.filter(refresh_at__lte=django.utils.timezone.now()).count()
        print(f"due: {due:,} of {args.links:,}\n\nEXPLAIN (ANALYZE) of the claim's due query:")
        print(explain_due_query())
        keys = put_due_objects(batch)
        ids, elapsed, _ = refresh_pass(check=False)
        due_again(ids)
        _, checked, requests = refresh_pass(check=True)
        listing, heads, lists = existence_alone(keys)
        parallel = through_workers(ids, args.concurrency, check=False)
        parallel_checked = through_workers(ids, args.concurrency, check=True)
        baseline = obvious_loop(batch, args.baseline_links, use_storage=True)
        fast_loop = obvious_loop(batch, args.baseline_links, use_storage=False)
    finally:
        scratch.drop(DATABASE)
    refreshed = len(ids)
    rate, rate_checked = refreshed / elapsed, refreshed / checked
    chunk = settings.LINKS_REFRESH_CHUNK
    n = f"{args.baseline_links:,} links"
    per_1000 = 1000 * sum(requests.values()) / refreshed
    print(f"\nrefresh pass in one process (take + re-sign + bulk save, chunks of {chunk:,}):")
    print(f"  check off: {refreshed:,} links in {elapsed:.2f} s = {rate:,.0f} links/s")
    print(
        f"  check on:  {refreshed:,} links in {checked:.2f} s = {rate_checked:,.0f} links/s "
        f"({rate_checked / rate:.0%} of off); S3 requests {requests}: "
        f"{per_1000:.1f} per 1,000 links"
    )
    print(
        f"existence alone, {len(keys):,} keys: by listing {listing:.2f} s ({lists} LISTs), "
        f"a HEAD per key on 8 threads {heads:.2f} s: {heads / listing:.0f}x faster"
    )
    print(
        f"through Celery: the beat task on {args.concurrency} worker processes "
        f"(LINKS_REFRESH_PARALLEL passes): check off {parallel:,.0f} links/s, "
        f"check on {parallel_checked:,.0f} links/s"
    )
    print(f"obvious loop (storage.url + save per link, {n}): {baseline:,.0f} links/s")
    print(f"loop with the fast signer (sign + save per link, {n}): {fast_loop:,.0f} links/s")
    print(f"ratio: {rate / baseline:.1f}x the obvious loop, {rate / fast_loop:.1f}x the fast loop")
    print(f"through Celery: {parallel / baseline:.1f}x the obvious loop")


if __name__ == "__main__":
    main()
