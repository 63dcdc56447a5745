"""How fast one refresh pass re-signs links, as passes measure it, and the chunks that lost
their lease: one RefreshMeter row, written once per chunk.

The rate is a moving average over chunks of at least MIN_SAMPLE links (a pass over a handful
of links says more about its fixed costs than about its rate). Until a pass has measured it,
LINKS_REFRESH_RATE (the rate docs/performance.md documents) stands in. The pools' capacity is
that rate times LINKS_REFRESH_PARALLEL, the passes that run at once when many links are due.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from common.dbops import commit_without_waiting_for_disk, update_named_row
from tasks.models import RefreshMeter

NAME = "refresh"
WEIGHT = 0.3  # of the newest chunk in the moving average
MIN_SAMPLE = 100


def record_chunk(links: int, seconds: float, now: datetime) -> None:
    """Fold a chunk's rate into the moving average (one upsert)."""
    if links < min(MIN_SAMPLE, settings.LINKS_REFRESH_CHUNK) or seconds <= 0:
        return
    table = RefreshMeter._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        commit_without_waiting_for_disk()  # a sample of a moving average
        cursor.execute(
            f"INSERT INTO {table} AS m (name, links_per_second, measured_at, leases_lost) "  # noqa: S608 - constants
            "VALUES (%s, %s, %s, 0) ON CONFLICT (name) DO UPDATE SET "
            "links_per_second = CASE WHEN m.links_per_second <= 0 THEN excluded.links_per_second "
            "ELSE m.links_per_second * %s + excluded.links_per_second * %s END, "
            "measured_at = excluded.measured_at",
            [NAME, links / seconds, now, 1 - WEIGHT, WEIGHT],
        )


def record_lost(links: int, now: datetime) -> None:
    update_named_row(RefreshMeter, NAME, leases_lost=F("leases_lost") + links, lease_lost_at=now)


def current() -> RefreshMeter:
    return RefreshMeter.objects.filter(name=NAME).first() or RefreshMeter(name=NAME)


def pass_rate(meter: RefreshMeter | None = None) -> float:
    """Links per second one pass re-signs: measured, else LINKS_REFRESH_RATE."""
    meter = current() if meter is None else meter
    return meter.links_per_second if meter.links_per_second > 0 else settings.LINKS_REFRESH_RATE


def capacity(meter: RefreshMeter | None = None) -> float:
    """Links per second the refresh pools re-sign when many are due."""
    return pass_rate(meter) * settings.LINKS_REFRESH_PARALLEL
