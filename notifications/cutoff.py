"""A first contact cut off in `deliveries`: quarantine writes it down and retries it.

A new endpoint that does not answer within WEBHOOK_FIRST_CONTACT_TIMEOUT is learnt to be
slow, and what follows (its attempt's row, its endpoint's failure, the release of the round's
other deliveries, its retry) is quarantine's work, not that of the process that serves the
healthy lanes. So `deliveries` sends one message, holding on to the round's claim, and the
quarantine process takes the claim over: it records the cut-off attempt under the round's
token, releases the rest, and drains the lane at once (the retry, with the full deadline).
A cut-off first contact costs `deliveries` some 40 % less that way (docs/performance.md).

The claim's lease (one WEBHOOK_TIMEOUT and DELIVERY_LEASE_GRACE) outlives the first
contact's deadline by tens of seconds: time for the message to be taken. If it runs out
first, the sweeper has recovered the deliveries as a lost worker's, and the take-over finds
nothing to record (an error logged, `linkdist_delivery_takeovers_lost` counted, /healthz's
`delivery_takeovers` failing). A message taken twice (quarantine lost after the record) finds
the attempt recorded, and only drains the lane.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F
from django.utils import timezone

from common import metrics
from common.dbops import update_named_row
from common.redact import redact
from notifications import lanes
from notifications.lanes import Lane
from notifications.models import Attempt, Delivery, DeliveryMeter
from notifications.recorder import Recorder, Result
from notifications.transports.base import TransportError

log = logging.getLogger(__name__)
METER = "deliveries"


@dataclass(frozen=True)
class CutOff:
    """What quarantine needs to record a cut-off attempt: the message's body."""

    delivery_id: str
    started_at: datetime
    latency_ms: int
    message: str

    @classmethod
    def of(cls, result: Result) -> CutOff:
        assert result.error is not None
        message = redact(result.error.message)[:500]
        return cls(str(result.delivery.id), result.started_at, result.latency_ms, message)

    def to_message(self) -> dict[str, Any]:
        return {
            "delivery": self.delivery_id,
            "started_at": self.started_at.isoformat(),
            "latency_ms": self.latency_ms,
            "error": self.message,
        }

    @classmethod
    def from_message(cls, body: dict[str, Any]) -> CutOff:
        started_at = datetime.fromisoformat(str(body["started_at"]))
        return cls(str(body["delivery"]), started_at, int(body["latency_ms"]), str(body["error"]))

    def result(self, delivery: Delivery) -> Result:
        error = TransportError(self.message, timed_out=True, first_contact=True)
        return Result(delivery, self.started_at, self.latency_ms, None, error)


def is_cut_off(result: Result) -> bool:
    """The send was a first contact, cut off at its shorter deadline."""
    return result.error is not None and result.error.first_contact


def take_over(lane: Lane, token: uuid.UUID, cut: CutOff) -> bool:
    """Record the cut-off attempt under the round's claim and release the round's other
    deliveries; False when the claim was no longer the round's (its lease ran out)."""
    claimed = lane.deliveries().filter(claim_token=token, status=Delivery.Status.SENDING)
    rows = lanes.with_recipients(list(claimed))
    cut_row = next((row for row in rows if str(row.id) == cut.delivery_id), None)
    if cut_row is None:
        if recorded(cut):  # a message taken again (its worker was lost after recording it)
            return True
        log.error(
            "lane %s: the first contact cut off in deliveries lost its claim before quarantine "
            "took it over (the sweeper recovers it); raise DELIVERY_LEASE_GRACE if this recurs",
            lane,
        )
        metrics.DELIVERY_TAKEOVERS_LOST.inc()
        record_lost_take_over(timezone.now())
        return False
    lanes.release([row for row in rows if row is not cut_row], token)
    recorder = Recorder(token)
    recorder.add(cut.result(cut_row))
    recorder.flush()  # its retry: the run that follows the take-over
    return True


def record_lost_take_over(now: datetime) -> None:
    """Counted where /healthz looks (its check `delivery_takeovers`)."""
    update_named_row(
        DeliveryMeter, METER, takeovers_lost=F("takeovers_lost") + 1, takeover_lost_at=now
    )


def last_lost_take_over() -> datetime | None:
    meter = DeliveryMeter.objects.filter(name=METER).first()
    return meter.takeover_lost_at if meter else None


def recorded(cut: CutOff) -> bool:
    return Attempt.objects.filter(delivery_id=cut.delivery_id, started_at=cut.started_at).exists()
