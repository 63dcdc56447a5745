"""When a cron schedule runs, in its own time zone, across daylight-saving changes.

Cron fields are parsed by Celery's crontab (the same fields django-celery-beat's
CrontabSchedule holds). Days follow crontab(5): when both day-of-month and day-of-week are
restricted (neither field starts with `*`), a day matches when EITHER matches, so
`0 8 1 * 1` runs on the 1st of every month and on every Monday; when one of them starts
with `*`, the other alone decides (`*/2` counts as unrestricted, as in cron itself).
This module turns local wall times into instants:
- a wall time that does not exist (the spring gap) runs at the first minute after
  the gap — once, even when several times of the schedule fall into the gap;
- a wall time that happens twice (the autumn fold) runs once, at its first instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice, takewhile
from zoneinfo import ZoneInfo

from celery.schedules import crontab

# The five fields of a cron expression, in order (the names of CrontabSchedule's columns).
CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


@dataclass(frozen=True)
class Cron:
    """The expanded fields of a cron expression (day_of_week: 0 = Sunday).

    either_day: both day fields are restricted, so a day matches when either one does.
    """

    minute: frozenset[int]
    hour: frozenset[int]
    day_of_month: frozenset[int]
    month_of_year: frozenset[int]
    day_of_week: frozenset[int]
    either_day: bool = False


def restricted(field: str) -> bool:
    """A day field restricts the days unless it starts with `*` (crontab(5))."""
    return not field.strip().startswith("*")


def cron_from_fields(
    minute: str, hour: str, day_of_month: str, month_of_year: str, day_of_week: str
) -> Cron:
    fields = (minute, hour, day_of_month, month_of_year, day_of_week)
    try:
        parsed = crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
        )
    except ValueError as error:
        raise ValueError(f"bad cron expression {' '.join(fields)!r}: {error}") from None
    sets = {name: frozenset(getattr(parsed, name)) for name in CRON_FIELDS}
    either_day = restricted(day_of_month) and restricted(day_of_week)
    return Cron(**sets, either_day=either_day)


def parse_cron(expression: str) -> Cron:
    """'minute hour day-of-month month day-of-week', as in crontab(5)."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"a cron expression has 5 fields, got {len(fields)} in {expression!r}")
    return cron_from_fields(*fields)


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    aware = wall.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


def local_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a local wall time stands for, by the rules above."""
    while not _exists(wall, zone):
        wall += timedelta(minutes=1)
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def day_matches(cron: Cron, day: date) -> bool:
    if day.month not in cron.month_of_year:
        return False
    by_date = day.day in cron.day_of_month
    by_weekday = (day.weekday() + 1) % 7 in cron.day_of_week  # cron: 0 = Sunday
    return (by_date or by_weekday) if cron.either_day else (by_date and by_weekday)


def _instants(cron: Cron, zone: ZoneInfo, start: datetime, last_day: date) -> Iterator[datetime]:
    """The instants (UTC, ascending, distinct) after `start`, on days up to `last_day`."""
    day = start.astimezone(zone).date() - timedelta(days=1)
    seen: set[datetime] = set()
    while day <= last_day:
        if day_matches(cron, day):
            for hour in sorted(cron.hour):
                for minute in sorted(cron.minute):
                    wall = datetime(day.year, day.month, day.day, hour, minute)
                    instant = local_instant(wall, zone)
                    if start < instant and instant not in seen:
                        seen.add(instant)
                        yield instant
        day += timedelta(days=1)


def occurrences(cron: Cron, zone: ZoneInfo, start: datetime, end: datetime) -> Iterator[datetime]:
    """The instants (UTC, ascending, distinct) of the schedule in (start, end]."""
    last_day = end.astimezone(zone).date() + timedelta(days=1)
    return takewhile(lambda instant: instant <= end, _instants(cron, zone, start, last_day))


def next_occurrences(
    cron: Cron, zone: ZoneInfo, after: datetime, count: int, horizon_days: int = 8 * 366
) -> list[datetime]:
    """The next `count` instants after `after` (fewer when the horizon ends first)."""
    last_day = after.astimezone(zone).date() + timedelta(days=horizon_days)
    return list(islice(_instants(cron, zone, after, last_day), count))


def latest_occurrence(
    cron: Cron, zone: ZoneInfo, after: datetime, now: datetime
) -> datetime | None:
    """The most recent instant in (after, now]; older missed ones are not caught up."""
    latest = None
    for latest in occurrences(cron, zone, after, now):  # noqa: B007
        pass
    return latest
