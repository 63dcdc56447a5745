"""Keep-alive at scale: a refreshing batch of a million links, all due at once, re-signed by the
real pools and beat with the existence check on, against the bulk rate of the same run.

    python bench/bench_keepalive.py [--links 1000000] [--bulk-keys 100000]
                                    [--check on|off|both] [--remaining 1800] [--s3-delay-ms 0]
                                    [--database linkdist_bench_keepalive]

Needs PostgreSQL and Redis on 127.0.0.1 (`make services`); the scratch database is created
and dropped here, the Redis queues are this run's own. S3 is bench/s3_standin.py, a local
stand-in holding --links + --bulk-keys synthetic keys (folders of 1,000) that answers HEAD
and ListObjectsV2 and counts the requests (LocalStack cannot hold a million objects here).

1. The `bulk` pool starts from its Procfile line, and `upkeep` and `beat` from theirs for each
   keep-alive phase (refresh passes every LINKS_REFRESH_INTERVAL=2 s,
   LINKS_REFRESH_CHECK_EXISTS from --check). Like with like: the bulk pool runs
   BULK_CONCURRENCY=2 processes, the refresh LINKS_REFRESH_PARALLEL=2 passes, in chunks of
   LINKS_CHUNK_SIZE and LINKS_REFRESH_CHUNK (both 5,000 by default); both sign through the
   same sign_many() and the same signer.
2. Bulk into an empty table: create_batch of --bulk-keys keys (a key list, existence check
   off, as bench_bulk_issue.py) signed by the bulk pool; keys / seconds from the call to done.
3. Load: --links links of one issued, refreshing batch, written by the bulk path's binary
   COPY (tasks.batches.linkstore), all due at the commit (refresh_at in the past) with --remaining
   seconds of life left: the moment a whole batch comes due together.
4. Bulk beside them: the sample of step 2 again, into the table that now holds the due links,
   as the refresh finds it (an index of a million links costs an insert more than an empty
   one): B, the bulk rate the phase's refresh is compared with.
5. Keep-alive: upkeep and beat start; beat's passes re-sign the links; the due count is polled
   (partial index) until it is 0, or until the links' old expiry passes. R = links re-signed /
   seconds from the moment both were up. S3 requests are those the stand-in counted
   meanwhile, per 1,000 links. Lapsed: links marked lapsed, left unrefreshed past their
   expiry, or re-signed after it.
6. --check both (the default): steps 3-5 with the check on, then again with it off, on a
   second batch of the same keys.
7. Floors (bench/keepalive_floors.py), on the table the phases left: the least work that
   stores --bulk-keys new links, and that re-signs as many due links in place, in this process
   (CPU: this process and the backends). The phases' lines give the refresh against the
   re-sign floor: what the pass's own machinery costs beyond re-signing.

CPU: besides the rates (wall clock, so a busy machine moves them), each phase counts the CPU
seconds (user + system, from /proc) of the pools, beat, this process and the PostgreSQL
backends of the scratch database: CPU per 1,000 links, and the refresh/bulk ratio it implies
(what the rates come to on the same cores when nothing else runs).

Prints progress, a line per phase, then as its last line (the check on; with --check off, off):
    keepalive: N links, X S3 requests per 1,000 links, refresh R links/s, bulk B links/s,
    refresh/bulk P %, lapsed L
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import scratch  # noqa: E402
from bench.keepalive_floors import resign_due, store_new  # noqa: E402
from bench.s3_standin import synthetic_key  # noqa: E402

BUCKET = "keepalive-media"
TTL = 7200  # the batch's expires_in: re-signed links get this, and are not due again here
LOAD_ROWS = 50_000  # links per COPY while loading (bounded memory)


def start_standin(count: int, delay_ms: float) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, str(ROOT / "bench" / "s3_standin.py"), str(count)]
    standin = subprocess.Popen(
        [*command, "--delay-ms", str(delay_ms)], stdout=subprocess.PIPE, text=True
    )
    assert standin.stdout is not None
    port = json.loads(standin.stdout.readline())["port"]
    return standin, f"http://127.0.0.1:{port}"


def s3_requests(endpoint: str) -> int:
    with urllib.request.urlopen(f"{endpoint}/_standin/stats", timeout=10) as response:  # noqa: S310 - loopback
        return sum(json.load(response).values())


def configure(database: str, endpoint: str, check: bool) -> str:
    """Environment shared with the pools; returns the database URL."""
    database_url = scratch.recreate(database)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="tests.settings",  # test secrets, PostgreSQL, Redis
        TEST_DATABASE_URL=database_url,
        CELERY_QUEUE_PREFIX=f"keepalive-{uuid.uuid4().hex[:8]}-",
        DJANGO_LOG_LEVEL="WARNING",
        DJANGO_AWS_S3_ENDPOINT_URL=endpoint,
        DJANGO_AWS_STORAGE_BUCKET_NAME=BUCKET,
        LINKS_REFRESH_CHECK_EXISTS="true" if check else "false",
        LINKS_REFRESH_INTERVAL="2",
    )
    return database_url


def bulk_rate(first: int, count: int) -> float:
    """create_batch of `count` keys of the set, signed by the bulk pool; links per second."""
    from tasks.batches.issuing import create_batch
    from tasks.batches.spec import BatchRequest
    from tasks.management.clitools import wait_for

    keys = [synthetic_key(number) for number in range(first, first + count)]
    started = time.perf_counter()
    # Not refreshing: the sample measures the issue path, apart from any admission rule that
    # weighs refreshing links against the refresh rate.
    batch = create_batch(BatchRequest(keys=keys, expires_in=TTL)).batch
    batch = wait_for(batch, stall_timeout=300, stream=io.StringIO(), poll=0.05)
    elapsed = time.perf_counter() - started
    assert batch.status == "done" and batch.signed == count, (batch.status, batch.error)
    return count / elapsed


def load(count: int, remaining: int) -> tuple[Any, datetime, datetime]:
    """An issued refreshing batch of `count` links, all due once committed; (batch, the commit
    time, the links' expiry)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from tasks.batches.linkstore import NewLink, copy_into_table, new_tokens
    from tasks.models import Batch, ShareLink

    now = timezone.now().replace(microsecond=0)
    expires_at = now + timedelta(seconds=remaining)
    issued_at = expires_at - timedelta(seconds=TTL)
    started = time.perf_counter()
    with transaction.atomic():
        batch = Batch.objects.create(
            source=Batch.Source.KEYS,
            bucket=BUCKET,
            expires_in=TTL,
            refresh=True,
            status=Batch.Status.DONE,
            total=count,
            signed=count,
            finished_at=now,
        )
        for first in range(0, count, LOAD_ROWS):
            numbers = range(first, min(first + LOAD_ROWS, count))
            links = [
                NewLink(key, f"https://old.invalid/{key}", issued_at, expires_at, None, token, now)
                for key, token in zip(
                    map(synthetic_key, numbers), new_tokens(len(numbers)), strict=True
                )
            ]
            copy_into_table(batch, links)
    committed = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {ShareLink._meta.db_table}")
    print(f"loaded {count:,} links by COPY in {time.perf_counter() - started:.1f} s", flush=True)
    return batch, committed, expires_at


def due(batch: Any, since: datetime) -> Any:
    from tasks.models import ShareLink

    active = ShareLink.objects.filter(batch=batch, status=ShareLink.Status.ACTIVE)
    return active.filter(refresh_at__isnull=False, refresh_at__lte=since)


def keep_alive(
    batch: Any, count: int, started: float, since: datetime, expires_at: datetime
) -> float:
    """Wait until no loaded link (due at `since`) is due, or their expiry has passed; seconds
    from `started` (perf_counter). Polled with EXISTS (the due index's first entry), counted
    only for the progress line: a count every half second walked up to a million index
    entries, CPU the refresh was charged for and its pools went without."""
    from django.utils import timezone

    shown = time.perf_counter()
    while True:
        left = due(batch, since).exists()
        elapsed = time.perf_counter() - started
        if not left or timezone.now() > expires_at:
            return elapsed
        if time.perf_counter() - shown >= 10:
            done = count - due(batch, since).count()
            print(f"  {elapsed:6.0f} s: {done:,} of {count:,} re-signed", flush=True)
            shown = time.perf_counter()
        time.sleep(0.5)


def lapsed(batch: Any, expires_at: datetime) -> int:
    """Links marked lapsed, never re-signed though their expiry passed, or re-signed after it."""
    from django.db.models import Q
    from django.utils import timezone

    from tasks.models import ShareLink

    late = Q(issued_at__gt=expires_at)
    if timezone.now() > expires_at:
        late |= Q(version=1)
    return ShareLink.objects.filter(Q(batch=batch) & (Q(status="lapsed") | late)).count()


def process_cpu(pids: Iterable[int]) -> float:
    """CPU seconds (user + system) of these processes and their descendants, alive now."""
    stats: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _) in stats.items():
        children[parent].append(pid)
    ticks, todo, seen = 0, list(pids), set()
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in seen:
            seen.add(pid)
            ticks += stats[pid][1]
            todo.extend(children[pid])
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent by the pools, beat, this process and the database's backends."""

    def __init__(self) -> None:
        self.pools: list[Any] = []

    def seconds(self) -> float:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            backends = [row[0] for row in cursor.fetchall()]
        roots = [pool.process.pid for pool in self.pools if pool.process is not None]
        return process_cpu([*roots, os.getpid(), *backends])


@dataclass
class Rate:
    links: int
    seconds: float
    cpu: float

    @property
    def per_second(self) -> float:
        return self.links / self.seconds

    @property
    def cpu_per_1000(self) -> float:
        """Milliseconds of CPU per 1,000 links."""
        return 1e6 * self.cpu / max(self.links, 1)


@dataclass
class Phase:
    check: str
    links: int
    refresh: Rate
    bulk: Rate  # the bulk sample into the same table, just before the refresh
    requests: int
    lapsed: int

    def ratio(self) -> float:
        return self.refresh.per_second / self.bulk.per_second

    def cpu_ratio(self) -> float:
        return self.bulk.cpu_per_1000 / self.refresh.cpu_per_1000


def bulk_sample(args: argparse.Namespace, meter: CpuMeter, table: str) -> Rate:
    cpu = meter.seconds()
    rate = bulk_rate(args.links, args.bulk_keys)
    sample = Rate(args.bulk_keys, args.bulk_keys / rate, meter.seconds() - cpu)
    print(
        f"bulk, {table}: {args.bulk_keys:,} keys in {sample.seconds:.1f} s, "
        f"{sample.per_second:,.0f} links/s; CPU {sample.cpu_per_1000:.0f} ms per 1,000 links",
        flush=True,
    )
    return sample


def keep_alive_phase(args: argparse.Namespace, endpoint: str, meter: CpuMeter, check: str) -> Phase:
    """A batch of --links links all due at once; the bulk sample into the table that holds
    them; then upkeep and beat, with the check on or off, keep them alive."""
    from django.utils import timezone

    from tests.services.celery_processes import PoolProcess

    batch, committed, expires_at = load(args.links, args.remaining)
    bulk = bulk_sample(args, meter, f"beside the {args.links:,} due links")
    setting = {"LINKS_REFRESH_CHECK_EXISTS": "true" if check == "on" else "false"}
    url = os.environ["TEST_DATABASE_URL"]
    with ExitStack() as stack:
        for name in ("upkeep", "beat"):
            pool = PoolProcess(url, name, extra_env=setting).start(timeout=120)
            stack.callback(pool.stop)
            meter.pools.append(pool)
        started, before, cpu = time.perf_counter(), s3_requests(endpoint), meter.seconds()
        lifetime = (expires_at - timezone.now()).total_seconds()
        print(f"upkeep and beat up: the links have {lifetime:,.0f} s of life left", flush=True)
        elapsed = keep_alive(batch, args.links, started, committed, expires_at)
        cpu = meter.seconds() - cpu
        requests = s3_requests(endpoint) - before
        meter.pools = meter.pools[:-2]
    refreshed = args.links - due(batch, committed).count()
    refresh = Rate(refreshed, elapsed, cpu)
    return Phase(check, args.links, refresh, bulk, requests, lapsed(batch, expires_at))


def floors(args: argparse.Namespace) -> Rate:
    """The least work that stores --bulk-keys new links, and that re-signs as many due links in
    place, on the table the phases left (bench/keepalive_floors.py); the re-sign floor."""
    from django.conf import settings

    load(args.bulk_keys, args.remaining)  # due now
    meter = CpuMeter()  # this process and the database's backends: the pools are stopped
    cpu, started = meter.seconds(), time.perf_counter()
    store_new(args.links, args.bulk_keys, TTL)
    store = Rate(args.bulk_keys, time.perf_counter() - started, meter.seconds() - cpu)
    cpu, started = meter.seconds(), time.perf_counter()
    count = resign_due(TTL)
    resign = Rate(count, time.perf_counter() - started, meter.seconds() - cpu)
    print(
        f"floors (one process, no queue, lease or check; chunks of {settings.LINKS_CHUNK_SIZE:,} "
        f"and {settings.LINKS_REFRESH_CHUNK:,}): storing "
        f"{store.links:,} new links {store.per_second:,.0f} links/s, CPU "
        f"{store.cpu_per_1000:.0f} ms per 1,000; re-signing {resign.links:,} due links in place "
        f"{resign.per_second:,.0f} links/s, CPU {resign.cpu_per_1000:.0f} ms per 1,000: "
        f"re-sign/store {100 * resign.per_second / store.per_second:.0f} % (by CPU "
        f"{100 * store.cpu_per_1000 / resign.cpu_per_1000:.0f} %)",
        flush=True,
    )
    return resign


def run(args: argparse.Namespace, endpoint: str) -> str:
    from django.conf import settings
    from django.core.management import call_command

    from tests.services.celery_processes import PoolProcess

    call_command("migrate", verbosity=0)
    meter = CpuMeter()
    with ExitStack() as stack:
        pool = PoolProcess(os.environ["TEST_DATABASE_URL"], "bulk").start(timeout=120)
        stack.callback(pool.stop)
        meter.pools.append(pool)
        empty = bulk_sample(args, meter, "into an empty table")
        checks = ("on", "off") if args.check == "both" else (args.check,)
        phases = [keep_alive_phase(args, endpoint, meter, check) for check in checks]
    resign = floors(args)
    for phase in phases:
        refresh, bulk = phase.refresh, phase.bulk
        print(
            f"refresh, existence check {phase.check}: {refresh.links:,} of {phase.links:,} "
            f"links re-signed in {refresh.seconds:.1f} s, {refresh.per_second:,.0f} links/s, "
            f"{100 * phase.ratio():.0f} % of bulk ({bulk.per_second:,.0f} links/s into the same "
            f"table; {100 * refresh.per_second / empty.per_second:.0f} % of bulk into an empty "
            f"one); CPU {refresh.cpu_per_1000:.0f} ms per 1,000 links (bulk "
            f"{bulk.cpu_per_1000:.0f}: {100 * phase.cpu_ratio():.0f} % of bulk by CPU); "
            f"{1000 * phase.requests / phase.links:.1f} S3 requests per 1,000; lapsed "
            f"{phase.lapsed:,}; {100 * refresh.per_second / resign.per_second:.0f} % of the "
            f"re-sign floor (upkeep pool, LINKS_REFRESH_PARALLEL="
            f"{settings.LINKS_REFRESH_PARALLEL}, chunks of {settings.LINKS_REFRESH_CHUNK:,})",
            flush=True,
        )
    last = phases[0]
    return (
        f"keepalive: {args.links:,} links, {1000 * last.requests / args.links:.1f} S3 requests "
        f"per 1,000 links, refresh {last.refresh.per_second:,.0f} links/s, bulk "
        f"{last.bulk.per_second:,.0f} links/s, refresh/bulk {100 * last.ratio():.0f} %, "
        f"lapsed {last.lapsed:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--links", type=int, default=1_000_000)
    parser.add_argument("--bulk-keys", type=int, default=100_000, help="the bulk sample")
    parser.add_argument(
        "--check", choices=("on", "off", "both"), default="both", help="existence check"
    )
    parser.add_argument(
        "--remaining", type=int, default=1800, help="seconds of life the due links have left"
    )
    parser.add_argument("--s3-delay-ms", type=float, default=0.0, help="slow every S3 answer")
    parser.add_argument("--database", default="linkdist_bench_keepalive")
    args = parser.parse_args()
    standin, endpoint = start_standin(args.links + args.bulk_keys, args.s3_delay_ms)
    try:
        configure(args.database, endpoint, args.check != "off")
        import django

        django.setup()
        try:
            line = run(args, endpoint)
        finally:
            scratch.drop(args.database)
    finally:
        standin.terminate()
        standin.wait()
    print(line)


if __name__ == "__main__":
    main()
