"""A dispatch run: one lane's due deliveries, round after round, each send under its deadline.

    drain(lane) -> attempted      # what a `dispatch` task does
    run(ids) -> attempted         # drain the lanes of these deliveries (tests, benchmarks)

A round claims up to DELIVERY_DISPATCH_BATCH due deliveries of the lane (see lanes.py),
sends them one after another over one transport (one kept-alive connection, one SMTP
session), and records the results; the run claims again until the lane has nothing due.
A send starts only while the round's lease outlives its hard deadline; what a round could
not send goes back, due, for the next. A webhook failure ends the round, so a failing
endpoint costs one attempt per round until its breaker opens; a timeout ends the run, so
that a slow endpoint holds a thread for one WEBHOOK_TIMEOUT per retry, not back to back
(the retry's message, or the sweeper's requeue, brings the rest of its lane). A run tries
each delivery once (its retry comes with a message of its own, as scheduled). In
`deliveries`, a first contact with a new endpoint that does not answer within its grace needs
one of the process's first-contact slots, and one cut off is taken over by quarantine
(first_contact.py, cutoff.py). After DELIVERY_RUN_BUDGET the run queues its lane again and
leaves, so that a long backlog takes turns with others.

With a connection pool (the deliveries worker), a thread gives its database connection
back before it sends: hundreds of threads wait on endpoints with a few connections.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from notifications import cutoff, lanes
from notifications.lanes import Lane, Round
from notifications.models import Delivery, Recipient
from notifications.queue import enqueue_lanes, enqueue_take_over
from notifications.recorder import Recorder, Result, Retry
from notifications.transports import TRANSPORTS, Transport, TransportError

log = logging.getLogger(__name__)


def attempt(transport: Transport, delivery: Delivery) -> Result:
    started_at, started = timezone.now(), time.monotonic()
    try:
        sent = transport.send(delivery)
        error: TransportError | None = None
    except TransportError as failure:
        sent, error = None, failure
    except Exception as bug:  # one broken delivery must not strand the others of the run
        log.exception("delivery %s: unexpected error", delivery.id)
        sent, error = None, TransportError(f"internal error: {type(bug).__name__}")
    latency_ms = int((time.monotonic() - started) * 1000)
    return Result(delivery, started_at, latency_ms, sent, error)


def run(ids: Sequence[Any], transports: dict[str, type[Transport]] | None = None) -> int:
    """Drain the lanes of these deliveries; returns how many sends were attempted."""
    return sum(drain(lane, transports) for lane in lanes.lanes_of(ids))


def drain(
    lane: Lane, transports: dict[str, type[Transport]] | None = None, *, in_deliveries: bool = False
) -> int:
    """`in_deliveries`: this run is in the `deliveries` process, where first contacts have
    their slots (first_contact.py) and one cut off is taken over by quarantine (cutoff.py)."""
    token = uuid.uuid4()
    budget_end = time.monotonic() + settings.DELIVERY_RUN_BUDGET
    kind = Recipient.Kind.EMAIL if lane.kind == lanes.EMAIL else Recipient.Kind.WEBHOOK
    attempted = 0
    failed: set[Any] = set()  # tried once by this run: a retry comes with a new message
    retrying = full = False
    with (transports or TRANSPORTS)[kind]() as transport:
        transport.in_deliveries = in_deliveries
        tolerance = lanes.CLOCK_TOLERANCE  # the message may arrive a hair before it is due
        while time.monotonic() < budget_end:
            started = time.monotonic()
            limit = settings.DELIVERY_DISPATCH_BATCH
            batch = lanes.claim(lane, token, limit, tolerance, exclude=failed, likely_due=full)
            tolerance = timedelta(0)  # later rounds: what is due now
            full = len(batch.deliveries) >= limit
            if not batch.deliveries:
                if retrying:  # now that this run holds no claim, its retries find the lane open
                    enqueue_lanes([lane])
                return attempted
            transport.prepare(batch.deliveries)
            sent = send_round(
                transport,
                lane,
                batch,
                token,
                lease_end=started + lane.lease,
                until=budget_end,
            )
            attempted += len(sent)
            errors = [result for result in sent if result.error is not None]
            failed.update(result.delivery.id for result in errors)
            retrying = retrying or any(r.error and not r.error.permanent for r in errors)
            if lane.kind == lanes.WEBHOOK and any(r.error and r.error.timed_out for r in errors):
                return attempted  # a slow endpoint: its retry (or the sweeper) brings the rest
            if not sent:  # the lease could not cover a send (a slow database): try later
                break
    enqueue_lanes([lane])  # budget spent: to the back of the queue, behind other lanes
    return attempted


def send_round(
    transport: Transport,
    lane: Lane,
    batch: Round,
    token: uuid.UUID,
    *,
    lease_end: float,
    until: float,
) -> list[Result]:
    """Send the round's deliveries in turn; returns the results (what was attempted). From
    `deliveries` (transport.in_deliveries), a first contact cut off is handed, claimed, to
    quarantine (cutoff.py)."""
    recorder = Recorder(token)
    unsent: list[Delivery] = []
    sent: list[Result] = []
    try:
        hand_back_connection()
        for index, delivery in enumerate(batch.deliveries):
            now = time.monotonic()
            if now + lane.timeout + lanes.LEASE_SAFETY > lease_end or now > until:
                unsent = batch.deliveries[index:]
                break
            result = attempt(transport, delivery)
            sent.append(result)
            if transport.in_deliveries and cutoff.is_cut_off(result):
                enqueue_retries(recorder.flush())  # what came before, written under the claim
                if enqueue_take_over(lane, token, cutoff.CutOff.of(result).to_message()):
                    break  # quarantine records it and releases the rest, under this claim
            recorder.add(result)
            failed = result.error is not None
            if failed and lane.kind == lanes.WEBHOOK:
                unsent = batch.deliveries[index + 1 :]  # the endpoint is failing: new round
                break
            if recorder.due():
                enqueue_retries(recorder.flush())
                hand_back_connection()
    finally:
        lanes.release(unsent, token)
        enqueue_retries(recorder.flush())
        hand_back_connection()
    return sent


def enqueue_retries(retries: list[Retry]) -> None:
    for retry in retries:
        enqueue_lanes(retry.lanes, countdown=retry.countdown, to_quarantine=retry.to_quarantine)


def hand_back_connection() -> None:
    """With a connection pool, return this thread's connection to it (outside transactions):
    a thread waiting on an endpoint holds no database connection."""
    pooled = connection.settings_dict.get("OPTIONS", {}).get("pool")
    if pooled and not connection.in_atomic_block:
        connection.close()
