"""Cron schedules in Europe/Paris: one run a day, at the right local time, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from schedules.occurrences import (
    latest_occurrence,
    next_occurrences,
    occurrences,
    parse_cron,
)

PARIS = ZoneInfo("Europe/Paris")


def runs(expression: str, start: datetime, days: int) -> list[datetime]:
    return list(occurrences(parse_cron(expression), PARIS, start, start + timedelta(days=days)))


def local(instants: list[datetime]) -> list[str]:
    return [i.astimezone(PARIS).strftime("%m-%d %H:%M %Z") for i in instants]


def test_spring_change_keeps_eight_oclock_local():
    got = runs("0 8 * * *", datetime(2026, 3, 27, tzinfo=UTC), 4)
    assert local(got) == [
        "03-27 08:00 CET",
        "03-28 08:00 CET",
        "03-29 08:00 CEST",
        "03-30 08:00 CEST",
    ]
    assert got[2] - got[1] == timedelta(hours=23)


def test_autumn_change_keeps_eight_oclock_local():
    got = runs("0 8 * * *", datetime(2026, 10, 24, tzinfo=UTC), 3)
    assert local(got) == ["10-24 08:00 CEST", "10-25 08:00 CET", "10-26 08:00 CET"]
    assert got[1] - got[0] == timedelta(hours=25)


def test_a_time_in_the_spring_gap_runs_once_right_after_it():
    got = runs("30 2 * * *", datetime(2026, 3, 28, tzinfo=UTC), 3)
    assert local(got) == ["03-28 02:30 CET", "03-29 03:00 CEST", "03-30 02:30 CEST"]


def test_several_times_in_the_gap_do_not_double():
    got = runs("15,45 2 29 3 *", datetime(2026, 3, 28, tzinfo=UTC), 2)
    assert local(got) == ["03-29 03:00 CEST"]


def test_a_time_in_the_autumn_fold_runs_once():
    got = runs("30 2 * * *", datetime(2026, 10, 24, tzinfo=UTC), 3)
    assert local(got) == ["10-24 02:30 CEST", "10-25 02:30 CEST", "10-26 02:30 CET"]


def test_every_monday_at_eight_paris():
    got = runs("0 8 * * 1", datetime(2026, 11, 1, tzinfo=UTC), 30)
    assert [i.astimezone(PARIS).strftime("%a %d %H:%M") for i in got] == [
        "Mon 02 08:00",
        "Mon 09 08:00",
        "Mon 16 08:00",
        "Mon 23 08:00",
        "Mon 30 08:00",
    ]


def test_latest_occurrence_is_the_most_recent_due_one():
    cron = parse_cron("0 8 * * *")
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # 10:00 in Paris
    assert latest_occurrence(cron, PARIS, now - timedelta(days=3), now) == datetime(
        2026, 11, 28, 7, 0, tzinfo=UTC
    )
    assert latest_occurrence(cron, PARIS, now - timedelta(minutes=30), now) is None


def days(expression: str, start: datetime, count: int) -> list[str]:
    return [i.strftime("%a %d %b") for i in runs(expression, start, count)]


def test_day_of_month_or_day_of_week_when_both_are_restricted():
    # crontab(5): "0 8 1 * 1" runs on the 1st AND on every Monday, not on Mondays the 1st.
    got = days("0 8 1 * 1", datetime(2026, 11, 25, tzinfo=UTC), 14)
    assert got == ["Mon 30 Nov", "Tue 01 Dec", "Mon 07 Dec"]


def test_a_star_day_field_leaves_the_other_to_decide():
    assert days("0 8 1 * *", datetime(2026, 11, 25, tzinfo=UTC), 14) == ["Tue 01 Dec"]
    assert days("0 8 * * 1", datetime(2026, 11, 25, tzinfo=UTC), 14) == [
        "Mon 30 Nov",
        "Mon 07 Dec",
    ]


def test_a_stepped_star_counts_as_unrestricted_as_in_cron():
    # "*/10" starts with "*": the days must match both fields (the 1st, 11th, 21st, 31st
    # that are Mondays), as Vixie cron and cronie read it.
    assert days("0 8 */10 * 1", datetime(2026, 1, 1, tzinfo=UTC), 365) == [
        "Mon 11 May",
        "Mon 01 Jun",
        "Mon 31 Aug",
        "Mon 21 Sep",
        "Mon 21 Dec",
    ]


def test_the_or_rule_holds_across_the_spring_change():
    # Sunday 29 March 2026 is the change in Paris; the 29th and Sundays both match.
    got = runs("30 2 29 * 0", datetime(2026, 3, 20, tzinfo=UTC), 10)
    assert local(got) == ["03-22 02:30 CET", "03-29 03:00 CEST"]


def test_next_occurrences_are_the_coming_runs_in_order():
    cron = parse_cron("0 8 1 * 1")
    after = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    got = next_occurrences(cron, PARIS, after, 3)
    assert [i.astimezone(PARIS).strftime("%a %d %b %H:%M") for i in got] == [
        "Mon 30 Nov 08:00",
        "Tue 01 Dec 08:00",
        "Mon 07 Dec 08:00",
    ]


def test_next_occurrences_of_a_rare_date_look_years_ahead():
    got = next_occurrences(parse_cron("0 0 29 2 *"), UTC, datetime(2026, 3, 1, tzinfo=UTC), 2)
    assert got == [datetime(2028, 2, 29, tzinfo=UTC), datetime(2032, 2, 29, tzinfo=UTC)]


@pytest.mark.parametrize("expression", ["* * *", "61 * * * *", "0 25 * * *", "a b c d e"])
def test_bad_cron_expressions_are_refused(expression):
    with pytest.raises(ValueError, match="cron expression"):
        parse_cron(expression)
