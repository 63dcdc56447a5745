"""Deliveries per second: pooled connections vs a new connection per request or message.

    python bench/bench_delivery.py [--webhooks 3000] [--emails 400] [--receivers 4]

Needs PostgreSQL and Redis on 127.0.0.1 (`make services`); uses its own database
(linkdist_bench_delivery, created and migrated when missing) and its own Redis queue.
HTTP receivers and an SMTP server (aiosmtpd) run in a child process on loopback.

Measured, in one run, through the project's own code (publish → claim → sign → send →
record Attempt rows):
- webhooks, one process running the dispatcher, keep-alive connection pool (the default)
  against a new connection for every request;
- webhooks through Celery: the deliveries pool as the Procfile starts it (one process, a
  thread pool) fed by publish();
- emails, one SMTP connection per dispatch run (the default) against one per message.

Measured on the project's 2-core machine (sinks, PostgreSQL and the sender sharing it),
default arguments:

    Webhooks to 4 loopback receivers
        mode                                       count  seconds  per second   ratio
        dispatcher, new connection per request      3000     4.61         651    1.0x
        dispatcher, pooled keep-alive               3000     2.22       1,350    2.1x
        celery worker, 1 process, pooled            3000     2.81       1,068    1.6x

    Emails to a local SMTP server (aiosmtpd)
        mode                                       count  seconds  per second   ratio
        one SMTP connection per message              400     1.88         213    1.0x
        one SMTP connection per dispatch run         400     1.36         295    1.4x

    (4 SMTP connections for the 400 pooled emails: one per dispatch run of 100.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.delivery_tables import analyze_delivery_tables, fresh_delivery_tables  # noqa: E402

DATABASE = "linkdist_bench_delivery"
SERVER = "postgres://postgres@127.0.0.1:5432"
ITEMS = [
    {
        "id": n,
        "key": f"reports/2026/11/report {n}.pdf",
        "url": f"https://media.example/reports/2026/11/report%20{n}.pdf?X-Amz-Algorithm=AWS4-HMAC"
        f"-SHA256&X-Amz-Expires=3600&X-Amz-Signature={'ab' * 32}",
        "expires_at": "2026-12-01T10:00:00Z",
        "permalink": f"https://links.example/l/{uuid.uuid4().hex}",
        "filename": f"report {n}.pdf",
    }
    for n in range(3)
]


def start_sinks(receivers: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    sinks = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "delivery_sinks.py"), str(receivers), "900"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sinks.stdout is not None
    return sinks, json.loads(sinks.stdout.readline())


def configure(smtp_port: int) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    os.environ.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        TEST_DATABASE_URL=f"{SERVER}/{DATABASE}",
        CELERY_QUEUE_PREFIX=f"bench-delivery-{uuid.uuid4().hex[:8]}-",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        DJANGO_LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def recipients(specs: Sequence[dict[str, str]]) -> list[Any]:
    from notifications.recipients import recipient_from_spec

    return [recipient_from_spec(None, spec).recipient for spec in specs]


def publish_many(targets: list[Any], count: int) -> list[Any]:
    """`count` deliveries (one links.issued event per len(targets) of them), not enqueued."""
    from django.db import transaction

    from notifications.outbox import publish

    ids: list[Any] = []
    with mock.patch("notifications.outbox.enqueue_lanes"), transaction.atomic():
        for event in range(count // len(targets)):
            created = publish(
                "links.issued", subject=f"bench-{event}", recipients=targets, items=ITEMS
            )
            ids.extend(d.id for d in created)
    return ids


def dispatch_in_process(ids: list[Any], transports: dict[str, Any] | None) -> float:
    """What the dispatch messages of enqueue(ids) do, one after another: drain each lane."""
    from notifications import dispatcher

    started = time.perf_counter()
    dispatcher.run(ids, transports)
    return time.perf_counter() - started


def check_delivered(ids: list[Any]) -> None:
    from notifications.models import Delivery

    done = Delivery.objects.filter(id__in=ids, status="delivered").count()
    if done != len(ids):
        raise SystemExit(f"only {done} of {len(ids)} deliveries were delivered")


def webhook_transports() -> tuple[dict[str, Any], dict[str, Any]]:
    from notifications.netguard import guarded_pool_manager
    from notifications.transports import TRANSPORTS, WebhookTransport

    class NewConnectionEachTime(WebhookTransport):
        def send(self, delivery: Any) -> Any:
            self.pool = guarded_pool_manager(1)
            try:
                return super().send(delivery)
            finally:
                self.pool.clear()

    return dict(TRANSPORTS), {**TRANSPORTS, "webhook": NewConnectionEachTime}


def email_transports() -> tuple[dict[str, Any], dict[str, Any]]:
    from notifications.transports import TRANSPORTS, EmailTransport

    class ConnectionPerMessage(EmailTransport):
        def send(self, delivery: Any) -> Any:
            try:
                return super().send(delivery)
            finally:
                self.close()

    return dict(TRANSPORTS), {**TRANSPORTS, "email": ConnectionPerMessage}


def measure(
    label: str, specs: list[dict[str, str]], count: int, transports: dict[str, Any]
) -> tuple[str, int, float]:
    fresh_delivery_tables()
    ids = publish_many(recipients(specs), count)
    analyze_delivery_tables()
    elapsed = dispatch_in_process(ids, transports)
    check_delivered(ids)
    return label, len(ids), elapsed


def measure_celery(specs: list[dict[str, str]], count: int) -> tuple[str, int, float]:
    from notifications.models import Delivery
    from notifications.queue import enqueue
    from tests.services.celery_processes import PoolProcess

    fresh_delivery_tables()
    targets = recipients(specs)
    worker = PoolProcess(os.environ["TEST_DATABASE_URL"], "deliveries").start()
    ids = publish_many(targets, count)
    analyze_delivery_tables()
    try:
        started = time.perf_counter()
        enqueue(ids)  # DELIVERY_DISPATCH_BATCH ids a task, as for one large event or a backlog
        deadline = started + 300
        while Delivery.objects.filter(status="delivered").count() < len(ids):
            if time.perf_counter() > deadline:
                raise SystemExit("the worker did not deliver everything within 300 s")
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
    finally:
        worker.stop()
    return "celery deliveries pool (Procfile), pooled", len(ids), elapsed


def table(title: str, rows: list[tuple[str, int, float]], baseline: int) -> None:
    base = rows[baseline][1] / rows[baseline][2]
    print(f"\n{title}")
    print(f"    {'mode':40} {'count':>7} {'seconds':>8} {'per second':>11} {'ratio':>7}")
    for label, count, seconds in rows:
        rate = count / seconds
        print(f"    {label:40} {count:>7} {seconds:>8.2f} {rate:>11,.0f} {rate / base:>6.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--webhooks", type=int, default=3000)
    parser.add_argument("--emails", type=int, default=400)
    parser.add_argument("--receivers", type=int, default=4)
    args = parser.parse_args()

    sinks, ports = start_sinks(args.receivers)
    try:
        configure(ports["smtp"])
        hooks = [{"webhook": f"http://127.0.0.1:{port}/hook"} for port in ports["http"]]
        pooled, fresh = webhook_transports()
        measure("warm-up (not reported)", hooks, 40, fresh)  # first-use costs out of the rows
        webhook_rows = [
            measure("dispatcher, new connection per request", hooks, args.webhooks, fresh),
            measure("dispatcher, pooled keep-alive", hooks, args.webhooks, pooled),
            measure_celery(hooks, args.webhooks),
        ]
        people = [{"email": f"reader{n}@example.com"} for n in range(4)]
        one, per_message = email_transports()
        email_rows = [
            measure("one SMTP connection per message", people, args.emails, per_message),
            measure("one SMTP connection per dispatch run", people, args.emails, one),
        ]
    finally:
        assert sinks.stdin is not None and sinks.stdout is not None
        sinks.stdin.close()
        counts = json.loads(sinks.stdout.read().strip().splitlines()[-1])
        sinks.wait(timeout=30)
    table(f"Webhooks to {args.receivers} loopback receivers", webhook_rows, baseline=0)
    table("Emails to a local SMTP server (aiosmtpd)", email_rows, baseline=0)
    print(f"\nsinks saw: {counts}")


if __name__ == "__main__":
    main()
