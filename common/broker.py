"""When the broker does not take a message: the rows are the truth, a message only a nudge.

A row whose message did not go out is marked as queued at LEFT_TO_SWEEPER (the epoch), long
before any sweeper's window, so the next sweep of its app takes it (batch work:
`enqueued_at`, tasks.batches.sweeper; deliveries: `queued_at`, notifications.sweeper). A
date rather than NULL: `enqueued_at` is NOT NULL, and the sweepers' partial indexes are read
in date order, which NULL would fall outside of.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kombu.exceptions import KombuError, OperationalError

BROKER_ERRORS = (KombuError, OperationalError, OSError, ConnectionError)
LEFT_TO_SWEEPER = datetime(1970, 1, 1, tzinfo=UTC)
