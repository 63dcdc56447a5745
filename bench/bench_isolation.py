"""Fairness: deliveries per second to healthy endpoints, alone and with slow-dripping neighbours.

    python bench/bench_isolation.py [--endpoints 1000] [--events 3] [--slow-percent 10]
                                    [--rounds 5] [--warmup 1] [--drip 0.5] [--control]
                                    [--also-cold-from DIR]

Needs PostgreSQL and Redis on 127.0.0.1 (`make services`); uses its own database
(linkdist_bench_isolation, created and migrated when missing) and its own Redis queues.
The endpoints run in a child process (asyncio, one port each, bench/isolation_sinks.py).

Every run goes through the real path: publish() → the `deliveries` and `quarantine` pools
started from their Procfile lines (thread pools, in processes of their own; the project's
default settings: WEBHOOK_TIMEOUT 15 s, DELIVERY_ENDPOINT_LANES 2) → claim, sign, send, record.
1. alone: `--events` links.issued events to each of `--endpoints` healthy endpoints;
2. cold: the same to the same healthy endpoints, plus `--slow-percent` % as many new
   endpoints that accept the request and drip their answer a byte every `--drip` seconds.
   Their first attempts (first contacts) share the `deliveries` process with the healthy
   lanes, cut off at WEBHOOK_FIRST_CONTACT_TIMEOUT (at most WEBHOOK_FIRST_CONTACTS at once);
   their retries go to quarantine, cut off at WEBHOOK_TIMEOUT;
3. steady: as 2, but the slow endpoints' last attempt had already failed (as it has, for an
   endpoint that has been slow for a while): they are dispatched on quarantine from the start;
the lanes queued in random order. Measured: from queueing to the last healthy delivery
recorded. Each of --rounds rounds runs the three twice, the second time in reverse order
(alone, cold, steady, steady, cold, alone: a drift of the machine's speed through the round
weighs on every case alike), and gives two ratios of summed rates (2 / 1, 3 / 1); the figures
are the median ratios and the lowest (the slowest round: one run on this shared 2-core machine
can be a third slower than the next). The target is at least 90 % in both. One cold run
(`--warmup`) comes first and is not counted: a bench's first runs, on a fresh database and
fresh sinks, were often slower than the same cases later (up to a quarter, docs/performance.md).
`--control` adds a case identical to alone (`alone-2`): its ratio to alone, round by round,
is what the machine's own swings do to a ratio with no neighbour at all.
`--also-cold-with SECONDS` adds a cold run with WEBHOOK_FIRST_CONTACT_TIMEOUT=SECONDS to every
round (0: before/after in the same minute). `--also-cold-from DIR` adds a cold run whose pools
run the code of another checkout (`git worktree add DIR <commit>`, its `.venv` linked to this
one's): a change's before and after in the same rounds. Per run it prints where the pools
spent the time (bench/isolation_probe.py). Each run starts from a checkpoint (the filling's
writes flushed). A second table gives the same runs by CPU: healthy deliveries per CPU second
of the two pools, what the slow neighbours cost them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.delivery_tables import (  # noqa: E402
    analyze_delivery_tables,
    checkpoint,
    fresh_delivery_tables,
)
from bench.isolation_probe import Probe, Profile  # noqa: E402

DATABASE = "linkdist_bench_isolation"
SERVER = "postgres://postgres@127.0.0.1:5432"
ITEMS = [
    {
        "id": n,
        "key": f"reports/2026/11/report {n}.pdf",
        "url": f"https://media.example/reports/report%20{n}.pdf?X-Amz-Signature={'ab' * 32}",
        "expires_at": "2026-12-01T10:00:00Z",
        "permalink": f"https://links.example/l/{uuid.uuid4().hex}",
        "filename": f"report {n}.pdf",
    }
    for n in range(3)
]


def start_sinks(
    healthy: int, slow: int, drip: float
) -> tuple[subprocess.Popen[str], dict[str, list[int]]]:
    sinks = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "isolation_sinks.py"),
            *(str(n) for n in (healthy, slow, 900, drip)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sinks.stdout is not None
    return sinks, json.loads(sinks.stdout.readline())


def configure() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    os.environ.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        TEST_DATABASE_URL=f"{SERVER}/{DATABASE}",
        CELERY_QUEUE_PREFIX=f"bench-isolation-{uuid.uuid4().hex[:8]}-",
        DJANGO_LOG_LEVEL="WARNING",
        # the project's defaults, not the tests' short ones
        WEBHOOK_TIMEOUT="15",
        WEBHOOK_CONNECT_TIMEOUT="5",
        DELIVERY_RETRY_SCHEDULE="0,5s,5m,30m,2h,5h,10h,10h",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def endpoints(ports: list[int]) -> list[Any]:
    from notifications.recipients import recipient_from_spec

    return [
        recipient_from_spec(None, {"webhook": f"http://127.0.0.1:{port}/hook"}).recipient
        for port in ports
    ]


def publish_to(targets: list[Any], events: int) -> list[Any]:
    from django.db import transaction

    from notifications.outbox import publish

    ids: list[Any] = []
    with mock.patch("notifications.outbox.enqueue_lanes"), transaction.atomic():
        for event in range(events):
            created = publish("links.issued", subject=f"e{event}", recipients=targets, items=ITEMS)
            ids.extend(d.id for d in created)
    return ids


def measure(
    healthy_ports: list[int],
    slow_ports: list[int],
    events: int,
    slow_failing: bool = False,
    env: dict[str, str] | None = None,
    root: Path = ROOT,
) -> tuple[int, float, Profile]:
    """Seconds from queueing every lane until every healthy delivery is recorded, and where
    the pools spent that time."""
    from django.db.models import Max
    from django.utils import timezone

    from notifications.lanes import Lane
    from notifications.models import Delivery, Recipient
    from notifications.queue import enqueue_lanes
    from tests.services.celery_processes import WorkerPools

    fresh_delivery_tables()
    healthy, slow = endpoints(healthy_ports), endpoints(slow_ports)
    wanted = publish_to(healthy, events)
    publish_to(slow, events)
    if slow_failing:
        failed = Recipient.objects.filter(id__in=[r.id for r in slow])
        failed.update(consecutive_failures=1, failing_since=timezone.now())
    analyze_delivery_tables()
    checkpoint()  # no checkpoint's writes from the filling fall into the run
    lanes = [Lane.of("webhook", r.id) for r in healthy + slow]
    random.Random(7).shuffle(lanes)
    names = ("deliveries", "quarantine")
    pools = WorkerPools(os.environ["TEST_DATABASE_URL"], env, names=names, root=root)
    pools.start()
    pids = {name: pools[name].process.pid for name in names}
    try:
        with Probe(pids, [r.id for r in slow]) as probe:
            started = timezone.now()
            enqueue_lanes(lanes)
            done = Delivery.objects.filter(recipient__in=healthy, status=Delivery.Status.DELIVERED)
            while done.count() < len(wanted):  # polled gently: the end is read off the rows
                if (timezone.now() - started).total_seconds() > 600:
                    raise SystemExit(f"only {done.count()} of {len(wanted)} delivered in 600 s")
                time.sleep(0.5)
        finished = done.aggregate(last=Max("delivered_at"))["last"]
        logs = {name: pools[name].log() for name in names}
        probe.profile.messages = {name: log.count("] received") for name, log in logs.items()}
        probe.profile.taken_over = len(
            re.findall(r"notifications\.take_over\[[^]]*\] received", logs["quarantine"])
        )
        probe.profile.handed_over = logs["deliveries"].count("handed to quarantine")
        return len(wanted), (finished - started).total_seconds(), probe.profile
    finally:
        pools.kill()  # slow sends may be in flight: no need to wait for them


@dataclass(frozen=True)
class Case:
    name: str
    slow: bool  # next to the slow endpoints
    failing: bool = False  # which already failed
    env: tuple[tuple[str, str], ...] = ()  # settings of the pools for this case
    root: Path = ROOT  # the checkout whose code the pools run


CASES = [Case("alone", False), Case("cold", True), Case("steady", True, True)]


@dataclass
class Totals:
    """A case's runs in one round, summed."""

    count: int = 0
    seconds: float = 0.0
    cpu: float = 0.0

    def add(self, count: int, seconds: float, cpu: float) -> None:
        self.count += count
        self.seconds += seconds
        self.cpu += cpu


def round_order(cases: list[Case]) -> list[Case]:
    """Each case twice, the second time in reverse order (alone, cold, steady, steady, cold,
    alone): every case sits at the same mean position in the round, so a drift of the
    machine's speed through the round (its slow spells last minutes) weighs on all alike."""
    return cases + cases[::-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--events", type=int, default=3)
    parser.add_argument("--slow-percent", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="cold runs before the rounds, not counted (a bench's first runs are often slower)",
    )
    parser.add_argument(
        "--drip", type=float, default=0.5, help="seconds between the slow answers' bytes (0: none)"
    )
    parser.add_argument(
        "--also-cold-with",
        metavar="SECONDS",
        help="add a cold run whose pools have WEBHOOK_FIRST_CONTACT_TIMEOUT=SECONDS (0: off), "
        "in every round: a before/after pair measured in the same minute",
    )
    parser.add_argument(
        "--also-cold-from",
        metavar="DIR",
        type=Path,
        help="add a cold run whose pools run the code of the checkout DIR (the code before a "
        "change, say), in every round",
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="add a second alone case, measured in the rounds like the others: its ratio to "
        "alone is what the machine alone moves a round's ratio by",
    )
    args = parser.parse_args()
    slow_count = round(args.endpoints * args.slow_percent / 100)
    cases = list(CASES)
    if args.also_cold_with is not None:
        setting = (("WEBHOOK_FIRST_CONTACT_TIMEOUT", args.also_cold_with),)
        cases.insert(2, Case(f"cold-{args.also_cold_with}", True, False, setting))
    if args.also_cold_from is not None:
        cases.insert(2, Case("cold-from", True, False, root=args.also_cold_from.resolve()))
    if args.control:
        cases.insert(1, Case("alone-2", False))

    sinks, ports = start_sinks(args.endpoints, slow_count, args.drip)
    rates: dict[str, list[float]] = {case.name: [] for case in cases}
    per_cpu: dict[str, list[float]] = {case.name: [] for case in cases}
    try:
        configure()
        for _ in range(args.warmup):
            count, seconds, _ = measure(ports["healthy"], ports["slow"], args.events)
            print(f"  warm-up: {count / seconds:,.0f}/s (cold, not counted)", flush=True)
        for _ in range(args.rounds):
            totals = {case.name: Totals() for case in cases}
            for case in round_order(cases):
                slow = ports["slow"] if case.slow else []
                count, seconds, profile = measure(
                    ports["healthy"], slow, args.events, case.failing, dict(case.env), case.root
                )
                totals[case.name].add(count, seconds, sum(profile.cpu.values()))
                print(f"{case.name:>9}: {count / seconds:,.0f}/s; {profile.line()}", flush=True)
            for name, total in totals.items():
                rates[name].append(total.count / total.seconds)
                per_cpu[name].append(total.count / total.cpu)
    finally:
        assert sinks.stdin is not None and sinks.stdout is not None
        sinks.stdin.close()
        counts = sinks.stdout.read().strip().splitlines()[-1]
        sinks.wait(timeout=30)
    print(f"\nDeliveries per second to {args.endpoints} healthy loopback endpoints, {count} a run:")
    print(f"alone, and next to {slow_count} slow-dripping endpoints ({args.slow_percent:g} %)")
    print("that are new (cold) or already failing (steady); one row per round:")
    report(rates, "to alone")
    print("\nThe same runs, deliveries per CPU second of the two pools (deliveries + quarantine):")
    print("what the slow neighbours cost the pools:")
    report(per_cpu, "by CPU, to alone")
    print(f"\nsinks saw: {counts}")


def report(rates: dict[str, list[float]], label: str) -> None:
    """One row per round, then the median and the lowest of each column: a rate per case, and
    beside each case but `alone` its ratio to alone in the same round."""
    alone = rates["alone"]
    ratios = {
        name: [busy / calm for calm, busy in zip(alone, values, strict=True)]
        for name, values in rates.items()
        if name != "alone"
    }
    columns: list[list[float]] = [alone]
    heads = ["alone /s"]
    for name in ratios:
        columns += [rates[name], ratios[name]]
        heads += [f"{name} /s", "ratio"]
    print(row("round", heads))
    for number, values in enumerate(zip(*columns, strict=True), 1):
        print(row(str(number), cells(values)))
    print(row("median", cells([statistics.median(column) for column in columns])))
    print(row("lowest", cells([min(column) for column in columns])))
    summary = [
        f"{name} {statistics.median(values):.0%} median, {min(values):.0%} in the slowest round"
        for name, values in ratios.items()
    ]
    print(f"\n    {label}: {'; '.join(summary)} (target: cold and steady at least 90 %)")


def cells(values: tuple[float, ...] | list[float]) -> list[str]:
    """A rate, then (rate, ratio) pairs."""
    return [f"{v:.0%}" if n % 2 == 0 and n else f"{v:,.0f}" for n, v in enumerate(values)]


def row(label: str, values: list[str]) -> str:
    return f"    {label:>6} " + " ".join(f"{value:>10}" for value in values)


if __name__ == "__main__":
    main()
