"""Refresh: one million links in PostgreSQL, 1 % due — the due query's plan and the pass rate.

    python bench/bench_refresh.py [--links 1000000] [--due-percent 1] [--baseline-links 2000]
                                  [--concurrency 2]

Rows are loaded by COPY into a scratch database (linkdist_bench_refresh, created and
dropped here) on PostgreSQL at 127.0.0.1. Prints EXPLAIN (ANALYZE) of the pass's due
query, then times one refresh pass in-process (take with SKIP LOCKED, re-sign through the
signing entry point's signer, bulk save, in chunks of LINKS_REFRESH_CHUNK), then as many
links again refreshed by the beat task on real worker processes (Redis broker), against
the obvious loop (`storage.url()` or `sign()`, then `save()`, per link) on a subset, in
the same run.
The HEAD check is off: signing is local and the objects do not exist (with it on, a
pass adds a HEAD per link, on 8 threads).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
SERVER = "postgres://postgres@127.0.0.1:5432"
DATABASE = "linkdist_bench_refresh"


def configure() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["TEST_DATABASE_URL"] = f"{SERVER}/{DATABASE}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    os.environ["LINKS_REFRESH_CHECK_EXISTS"] = "false"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


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
                refresh_at = now - timedelta(seconds=5) if due else now + timedelta(hours=1)
                issued = now - timedelta(minutes=50) if due else now
                copy.write_row(
                    (
                        batch.id,
                        batch.bucket,
                        f"bench/{number:07d}/report.pdf",
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


def explain_due_query() -> str:
    from django.db import connection
    from django.utils import timezone

    from tasks.refresh import claims

    query = claims.due(timezone.now()).order_by("refresh_at").values("id")[:1000]
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql} FOR UPDATE SKIP LOCKED", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def refresh_pass() -> tuple[int, float]:
    from tasks.refresh import refresher

    started = time.perf_counter()
    report = refresher.run_pass(limit=10**9)
    elapsed = time.perf_counter() - started
    assert report.refreshed == report.due, report
    return report.refreshed, elapsed


def through_workers(batch: object, count: int, concurrency: int) -> float:
    """`count` more links made due, refreshed by the beat task on real worker processes."""
    from django.conf import settings
    from django.utils import timezone

    from tasks import tasks
    from tasks.models import ShareLink
    from tests.services.celery_processes import WorkerProcess

    ids = list(
        ShareLink.objects.filter(batch=batch, version=1, refresh_at__gt=timezone.now())
        .order_by("id")
        .values_list("id", flat=True)[:count]
    )
    ShareLink.objects.filter(id__in=ids).update(refresh_at=timezone.now())
    database_url = os.environ["TEST_DATABASE_URL"]
    worker = WorkerProcess(database_url, settings.QUEUE_UPKEEP, concurrency)
    worker.start()
    try:
        started = time.perf_counter()
        tasks.refresh_links.delay()
        while ShareLink.objects.filter(id__in=ids, version=1).exists():
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

    from tasks.models import ShareLink
    from tasks.signing.entry import sign

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
    args = parser.parse_args()
    configure()

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
        refreshed, elapsed = refresh_pass()
        parallel = through_workers(batch, refreshed, args.concurrency)
        baseline = obvious_loop(batch, args.baseline_links, use_storage=True)
        fast_loop = obvious_loop(batch, args.baseline_links, use_storage=False)
    finally:
        drop_database()
    rate = refreshed / elapsed
    chunk = settings.LINKS_REFRESH_CHUNK
    n = f"{args.baseline_links:,} links"
    print(f"\nrefresh pass in one process (take + re-sign + bulk save, chunks of {chunk:,}):")
    print(f"  {refreshed:,} links in {elapsed:.2f} s = {rate:,.0f} links/s")
    print(
        f"through Celery: the beat task on {args.concurrency} worker processes "
        f"(LINKS_REFRESH_PARALLEL passes): {parallel:,.0f} links/s"
    )
    print(f"obvious loop (storage.url + save per link, {n}): {baseline:,.0f} links/s")
    print(f"loop with the fast signer (sign + save per link, {n}): {fast_loop:,.0f} links/s")
    print(f"ratio: {rate / baseline:.1f}x the obvious loop, {rate / fast_loop:.1f}x the fast loop")
    print(f"through Celery: {parallel / baseline:.1f}x the obvious loop")


if __name__ == "__main__":
    main()
