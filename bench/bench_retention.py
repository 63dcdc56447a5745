"""Retention: purge 1,000,000 ended links (with their deliveries) beside 100,000 live ones, and
what the purge costs the refresh pass running at the same time.

    python bench/bench_retention.py [--ended 1000000] [--live 100000] [--due 20000]
                                    [--per-batch 10000] [--links-per-part 250]

Loads, into a scratch database (linkdist_bench_retention, created and dropped here):
- `--ended` links that ended 200 days ago (a third each lapsed, revoked, expired without
  refresh) in finished batches of `--per-batch`, with their deliveries in proportion: each
  batch's `links.issued` in parts of `--links-per-part` links to 2 webhook recipients (one
  message body per part, shared by both), 2 attempts per delivery, a chunk per 1,000 keys;
- `--live` refreshing links in one batch (no recipients), by COPY.

Prints the storage cost per row (bytes with indexes and TOAST), then times refresh passes of
`--due` links each (in-process: claim with SKIP LOCKED, re-sign, bulk save): a few with no
purge, then, while `manage.py purge` runs in a process of its own (as the upkeep worker
would), passes taking turns: one with the purge running, one with it stopped (SIGSTOP while it
rests between two chunks, never inside a transaction), so that the load of a shared machine
weighs on both sides alike; then a few with no purge again. Prints the purge's rows/s (its
stopped time left out) and the pass rate while it runs against the passes taken in turns.
The purge's pace is the settings' (RETENTION_CHUNK, RETENTION_DUTY_PERCENT from the
environment): `RETENTION_DUTY_PERCENT=100 python bench/bench_retention.py` shows it flat out.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import scratch  # noqa: E402

DATABASE = "linkdist_bench_retention"
TABLES = {
    "link": "tasks_sharelink",
    "delivery": "notifications_delivery",
    "attempt": "notifications_attempt",
    "message body": "notifications_messagebody",
    "batch chunk": "tasks_batchchunk",
}


def configure() -> None:
    os.environ["TEST_DATABASE_URL"] = scratch.recreate(DATABASE)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    os.environ["LINKS_REFRESH_CHECK_EXISTS"] = "false"


LINK_COLUMNS = (
    "batch_id, bucket, key, url, issued_at, expires_at, ttl, version, status, token, "
    "refresh_at, revoked_at, created_at, updated_at"
)


def copy_links(batch: Any, count: int, row: Any) -> None:
    """`count` links of `batch` by COPY; row(number, key, url) -> the columns after url."""
    from django.db import connection

    from media.signing import sign

    sql = f"COPY tasks_sharelink ({LINK_COLUMNS}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for number in range(count):
            key = f"bench/{batch.id.hex[:8]}/{number:07d}/report.pdf"
            url = sign(key, 3600).url
            copy.write_row((batch.id, batch.bucket, key, url, *row(number)))


def load_ended(count: int, per_batch: int, per_part: int) -> None:
    from django.conf import settings
    from django.db import transaction
    from django.utils import timezone

    from tasks.models import Batch

    now = timezone.now()
    ended = now - timedelta(days=200)
    recipients = make_recipients()
    states = [("lapsed", None), ("revoked", ended), ("active", None)]
    for first in range(0, count, per_batch):
        size = min(per_batch, count - first)
        with transaction.atomic():
            batch = Batch.objects.create(
                source="keys",
                bucket=settings.AWS_STORAGE_BUCKET_NAME,
                expires_in=3600,
                status="done",
                total=size,
                signed=size,
                created_at=ended,
                finished_at=ended,
            )

            def row(number: int) -> tuple[Any, ...]:
                status, revoked_at = states[number % 3]
                token = secrets.token_urlsafe(24)
                return (ended, ended, 3600, 1, status, token, None, revoked_at, ended, ended)

            copy_links(batch, size, row)
            load_batch_records(batch, size, per_part, recipients, ended)


def make_recipients() -> list[Any]:
    from notifications.models import Recipient

    return [
        Recipient.objects.create(kind="webhook", url=f"https://hooks.example.com/{n}")
        for n in range(2)
    ]


def load_batch_records(batch: Any, size: int, per_part: int, recipients: list, at: Any) -> None:
    """The batch's chunks, and its links.issued deliveries: a body per part, 2 attempts each."""
    from notifications.models import Attempt, Delivery, MessageBody
    from tasks.models import BatchChunk

    BatchChunk.objects.bulk_create(
        BatchChunk(batch=batch, index=n, keys=[f"k/{i}" for i in range(1000)], status="done")
        for n in range(-(-size // 1000))
    )
    parts = -(-size // per_part)
    bodies = MessageBody.objects.bulk_create(
        MessageBody(
            text=body_text(batch, part, min(per_part, size - part * per_part)), created_at=at
        )
        for part in range(parts)
    )
    deliveries = Delivery.objects.bulk_create(
        Delivery(
            recipient=recipient,
            event_type="links.issued",
            subject=str(batch.id),
            part=part + 1,
            parts=parts,
            body=body,
            link_count=per_part,
            status="delivered",
            created_at=at,
            delivered_at=at,
            attempt_count=2,
        )
        for part, body in enumerate(bodies)
        for recipient in recipients
    )
    Attempt.objects.bulk_create(
        Attempt(delivery=delivery, number=n, started_at=at, outcome=outcome, status_code=code)
        for delivery in deliveries
        for n, outcome, code in ((1, "transient", 503), (2, "delivered", 200))
    )


def body_text(batch: Any, part: int, links: int) -> str:
    """A links.issued body of this many links, shaped as sent (a signed URL per link)."""
    from media.signing import sign

    items = []
    for n in range(links):
        key = f"bench/{batch.id.hex[:8]}/{part:05d}-{n:05d}/report.pdf"
        signed = sign(key, 3600)
        items.append(
            {
                "id": n,
                "key": key,
                "url": signed.url,
                "expires_at": signed.expires_at.isoformat(),
                "permalink": f"https://links.example.com/l/{secrets.token_urlsafe(24)}",
            }
        )
    data = {"batch": str(batch.id), "links": items, "part": part + 1}
    return json.dumps({"type": "links.issued", "timestamp": "2026-01-01T00:00:00Z", "data": data})


def load_live(count: int) -> Any:
    from django.conf import settings
    from django.db import transaction
    from django.utils import timezone

    from tasks.models import Batch

    now = timezone.now()
    with transaction.atomic():
        batch = Batch.objects.create(
            source="keys",
            bucket=settings.AWS_STORAGE_BUCKET_NAME,
            expires_in=3600,
            refresh=True,
            status="done",
            total=count,
            signed=count,
            finished_at=now,
        )
        later = now + timedelta(hours=1)

        def row(number: int) -> tuple[Any, ...]:
            token = secrets.token_urlsafe(24)
            return (now, later, 3600, 1, "active", token, later, None, now, now)

        copy_links(batch, count, row)
    return batch


def storage_costs() -> dict[str, tuple[int, int]]:
    """{what: (rows, bytes with indexes and TOAST)} after VACUUM ANALYZE."""
    from django.db import connection

    sizes = {}
    with connection.cursor() as cursor:
        for what, table in TABLES.items():
            cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute(
                f"SELECT count(*), pg_total_relation_size('{table}'), "  # noqa: S608
                f"pg_relation_size('{table}'), pg_indexes_size('{table}') FROM {table}"
            )
            rows, total, heap, indexes = cursor.fetchone()
            sizes[what] = (rows, total)
            print(
                f"  {what:<13} {rows:>10,} rows  {total / max(rows, 1):>8,.0f} B/row with indexes "
                f"(heap {heap / max(rows, 1):,.0f}, indexes {indexes / max(rows, 1):,.0f})"
            )
    return sizes


def make_due(batch: Any, count: int) -> None:
    from django.utils import timezone

    from tasks.models import ShareLink

    ids = (
        ShareLink.objects.filter(batch=batch, status="active")
        .order_by("refresh_at")
        .values("id")[:count]
    )
    ShareLink.objects.filter(id__in=ids).update(refresh_at=timezone.now() - timedelta(seconds=5))


def refresh_pass(batch: Any, count: int) -> float:
    """Links/s of one in-process pass over `count` due links."""
    from tasks.refresh import refresher

    make_due(batch, count)
    started = time.perf_counter()
    report = refresher.run_pass(limit=10**9)
    elapsed = time.perf_counter() - started
    assert report.refreshed == report.due == count, report
    return count / elapsed


def resting(process: subprocess.Popen[str]) -> bool:
    """Wait until the purge rests between two chunks (in time.sleep, no transaction open)."""
    while process.poll() is None:
        if "nanosleep" in Path(f"/proc/{process.pid}/wchan").read_text():
            return True
        time.sleep(0.0005)
    return False


def interleave(purge: subprocess.Popen[str], live: Any, due: int) -> tuple[list, list, float]:
    """Passes taking turns, in the same minutes: one while the purge runs, one while it is
    stopped (SIGSTOP between two chunks); so the load of the machine weighs on both alike.
    Returns the rates during and without the purge, and the seconds the purge was stopped."""
    during, without, paused = [], [], 0.0
    if not resting(purge):  # it has started: one chunk done
        return during, without, paused
    while purge.poll() is None:
        during.append(refresh_pass(live, due))
        if not resting(purge):
            break
        purge.send_signal(signal.SIGSTOP)
        stopped = time.perf_counter()
        without.append(refresh_pass(live, due))
        purge.send_signal(signal.SIGCONT)
        paused += time.perf_counter() - stopped
    return during, without, paused


def start_purge() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "purge"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ended", type=int, default=1_000_000)
    parser.add_argument("--live", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=20_000, help="links per refresh pass")
    parser.add_argument("--per-batch", type=int, default=10_000)
    parser.add_argument("--links-per-part", type=int, default=250)
    parser.add_argument("--before", type=int, default=5, help="passes with no purge, before")
    args = parser.parse_args()
    configure()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        started = time.perf_counter()
        load_ended(args.ended, args.per_batch, args.links_per_part)
        live = load_live(args.live)
        print(
            f"loaded {args.ended:,} ended + {args.live:,} live links (and the rest) "
            f"in {time.perf_counter() - started:.0f} s\n\nstorage per row:"
        )
        sizes = storage_costs()
        refresh_pass(live, args.due)  # warm-up
        before = [refresh_pass(live, args.due) for _ in range(args.before)]
        purge = start_purge()
        purge_started = time.perf_counter()
        during, beside_paused, paused = interleave(purge, live, args.due)
        purge_seconds = time.perf_counter() - purge_started - paused
        output = purge.stdout.read() if purge.stdout else ""
        assert purge.returncode == 0, output
        after = [refresh_pass(live, args.due) for _ in range(args.before)]
        left = {what: count_rows(table) for what, table in TABLES.items()}
    finally:
        scratch.drop(DATABASE)
    report(args, sizes, output, purge_seconds, before + after, during, beside_paused, left)
    print(
        f"(purge: chunks of {settings.RETENTION_CHUNK}, working "
        f"{settings.RETENTION_DUTY_PERCENT} % of the time: RETENTION_DUTY_PERCENT)"
    )


def count_rows(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
        return cursor.fetchone()[0]


def report(
    args: Any,
    sizes: dict,
    output: str,
    seconds: float,
    apart: list,
    during: list,
    paused: list,
    left: dict,
) -> None:
    purged_line = next(line for line in output.splitlines() if line.startswith("purged:"))
    purged = sum(int(part.split()[-1]) for part in purged_line.split(":", 1)[1].split(","))
    print(f"\n{purged_line}")
    print(
        f"purge: {purged:,} rows in {seconds:.1f} s running = {purged / seconds:,.0f} rows/s "
        f"({args.ended / seconds:,.0f} ended links/s with everything they held)"
    )
    runs = (
        ("before and after the purge", apart),
        ("while the purge runs", during),
        ("taking turns with those, the purge stopped", paused),
    )
    for name, rates in runs:
        shown = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"refresh pass of {args.due:,} due links, {name}: {shown} links/s")
        print(f"  mean {statistics.mean(rates):,.0f}, median {statistics.median(rates):,.0f}")
    mean = statistics.mean(during) / statistics.mean(paused)
    median = statistics.median(during) / statistics.median(paused)
    print(
        f"ratio: the refresh pass keeps {mean:.0%} of its rate while the purge runs, against "
        f"the passes taken in turns with no purge (medians: {median:.0%}; target >= 90 %)"
    )
    print(f"left after the purge: {left} (the live links: {args.live:,})")
    link_rows, link_bytes = sizes["link"]
    print(
        f"\nstorage: {link_bytes / link_rows:,.0f} B per link row with indexes; "
        f"a million links: {link_bytes / link_rows * 1e6 / 2**30:.2f} GiB of link rows"
    )
    rest = sum(total for what, (_, total) in sizes.items() if what != "link") / args.ended
    held = link_bytes / link_rows + rest
    print(
        f"its deliveries, attempts, bodies and chunks: {rest:,.0f} B per ended link; in all "
        f"{held:,.0f} B per link, {held * 1e6 / 2**30:.2f} GiB per million"
    )


if __name__ == "__main__":
    main()
