"""How long a delivery lost with its worker can take to be sent again: derived from settings.

A run that dies leaves its claimed deliveries `sending` with a lease of one send's deadline
plus DELIVERY_LEASE_GRACE; the sweeper, every DELIVERY_SWEEP_INTERVAL, takes over the
expired ones and queues them. A dispatch message the dead worker had taken but not started
is lost too: its deliveries are pending, and the sweeper queues them again once
DELIVERY_REQUEUE_AFTER has passed. Then the send itself takes at most its deadline.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

LEASE_SAFETY = 1.0  # as in lanes.py: kept between a send's deadline and its lease's end


@dataclass(frozen=True)
class RecoverySettings:
    webhook_timeout: float
    email_timeout: float
    lease_grace: float
    sweep_interval: float
    requeue_after: float

    @classmethod
    def current(cls) -> RecoverySettings:
        return cls(
            webhook_timeout=settings.WEBHOOK_TIMEOUT,
            email_timeout=settings.EMAIL_TIMEOUT,
            lease_grace=settings.DELIVERY_LEASE_GRACE,
            sweep_interval=settings.DELIVERY_SWEEP_INTERVAL,
            requeue_after=settings.DELIVERY_REQUEUE_AFTER,
        )


NAMES = (
    "WEBHOOK_TIMEOUT, EMAIL_TIMEOUT, DELIVERY_LEASE_GRACE, DELIVERY_SWEEP_INTERVAL, "
    "DELIVERY_REQUEUE_AFTER"
)


def worst_case(values: RecoverySettings) -> float:
    """Seconds from a worker's loss to the end of the send that replaces its own."""
    send = max(values.webhook_timeout, values.email_timeout)
    lease = send + LEASE_SAFETY + values.lease_grace
    noticed = max(lease, values.requeue_after) + values.sweep_interval
    return noticed + send
