"""Send a delivery again, with the same `webhook-id` (a receiver can tell it is the same one)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from notifications.models import Delivery
from notifications.queue import enqueue


class ReplayError(ValueError):
    pass


def replay(delivery_id: Any) -> Delivery:
    """Make a delivered or failed delivery pending again, due now, with a fresh retry budget."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update().select_related("recipient").get(id=delivery_id)
        )
        if delivery.status == Delivery.Status.SENDING:
            raise ReplayError("the delivery is being sent right now; try again in a moment")
        if delivery.recipient.is_disabled:
            raise ReplayError(
                f"the recipient is disabled ({delivery.recipient.disabled_reason}); enable it first"
            )
        now = timezone.now()
        delivery.status = Delivery.Status.PENDING
        delivery.tries = 0
        delivery.next_attempt_at = now
        delivery.queued_at = now
        delivery.delivered_at = None
        delivery.save(
            update_fields=["status", "tries", "next_attempt_at", "queued_at", "delivered_at"]
        )
        transaction.on_commit(lambda: enqueue([delivery.id]), robust=True)
    return delivery
