"""Pieces of the `share_links` command: reading keys and dates, finding a worker, waiting."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TextIO

from celery import current_app
from django.utils.dateparse import parse_date, parse_datetime
from kombu.utils.url import maybe_sanitize_url
from tqdm import tqdm

from tasks.batches.enqueue import SIGN_CHUNK
from tasks.models import Batch

FIELD_FLAGS = {
    "keys": "--key/--keys-from",
    "prefix": "--prefix",
    "expires_in": "--expires-in",
    "refresh": "--refresh",
    "refresh_until": "--until",
}
FINISHED = (Batch.Status.DONE, Batch.Status.FAILED)


class NoWorker(RuntimeError):
    pass


class WaitStalled(RuntimeError):
    pass


def read_keys(lines: Iterable[str]) -> list[str]:
    """One key a line; line ends are dropped, blank lines skipped, other spaces kept."""
    return [line.rstrip("\r\n") for line in lines if line.strip()]


def parse_until(text: str) -> datetime:
    """An ISO date-time (UTC when no zone is given) or a date (the end of that day, UTC)."""
    day = parse_date(text)
    if day is not None:
        return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    moment = parse_datetime(text)
    if moment is None:
        raise ValueError(f"{text!r} is not a date (2026-12-31) or an ISO date-time")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def flag_for(field: str, specs: Sequence[str]) -> str:
    """The command-line flag behind a BatchInputError field ("recipients[1].webhook" -> --to …)."""
    name, _, rest = field.partition("[")
    if name == "recipients" and rest:
        return f"--to {specs[int(rest.split(']', 1)[0])]}"
    return FIELD_FLAGS.get(name, field)


def task_queue() -> str:
    return str(current_app.amqp.router.route({}, SIGN_CHUNK)["queue"].name)


def require_worker(timeout: float = 2.0) -> None:
    """NoWorker unless some worker answers and consumes the queue batch tasks go to."""
    queue = task_queue()
    try:
        replies = current_app.control.inspect(timeout=timeout).active_queues() or {}
    except Exception as error:  # kombu/redis raise several kinds for an unreachable broker
        broker = maybe_sanitize_url(current_app.conf.broker_url)
        raise NoWorker(f"cannot reach the broker at {broker}: {error}") from None
    if not any(q.get("name") == queue for queues in replies.values() for q in queues):
        raise NoWorker(
            f"no Celery worker consumes the queue {queue!r}: start one "
            f"(celery -A project worker -Q {queue}) or leave out --wait"
        )


def wait_for(
    batch: Batch,
    *,
    stall_timeout: float,
    stream: TextIO,
    poll: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
) -> Batch:
    """Follow a batch to done or failed with a progress bar; WaitStalled when nothing moves."""
    bar = tqdm(total=batch.total or None, unit="key", desc="signing", file=stream, leave=True)
    seen, since = None, clock()
    try:
        while True:
            batch.refresh_from_db()
            if batch.total and bar.total != batch.total:
                bar.reset(total=batch.total)
            bar.update(batch.processed - bar.n)
            if batch.status in FINISHED:
                return batch
            state = (batch.status, batch.total, batch.processed)
            if state != seen:
                seen, since = state, clock()
            elif clock() - since > stall_timeout:
                raise WaitStalled(
                    f"no progress for {stall_timeout:g} s: batch {batch.id} is {batch.status} "
                    f"({batch.processed} of {batch.total} keys); are the workers running? "
                    "The batch is kept and finishes when a worker takes it up."
                )
            time.sleep(poll)
    finally:
        bar.close()
