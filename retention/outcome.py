"""The outcome of each purge run, written down for /healthz: one RetentionOutcome row."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F

from common.dbops import update_named_row
from retention.models import RetentionOutcome

NAME = "retention"


def record(failures: int, now: datetime) -> None:
    """A run completed at `now`, leaving `failures` pieces of work to the next one."""
    changes: dict[str, object] = {"completed_at": now, "last_failures": failures}
    if failures:
        changes.update(failed_at=now, failures=F("failures") + failures)
    update_named_row(RetentionOutcome, NAME, **changes)


def current() -> RetentionOutcome:
    return RetentionOutcome.objects.filter(name=NAME).first() or RetentionOutcome(name=NAME)
