"""The refresh rule: due under a margin of the lifetime, never under the floor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from tasks.refresh.planner import spread_positions
from tasks.refresh.policy import RefreshPolicy, keeps_refreshing, next_ttl, planned_refresh

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_a_day_long_link_is_due_in_its_last_fifth():
    policy = RefreshPolicy()
    assert policy.refresh_at(T0, T0 + timedelta(days=1)) == T0 + timedelta(hours=19, minutes=12)


def test_the_floor_wins_for_short_links():
    policy = RefreshPolicy(fraction=0.2, floor=timedelta(minutes=5))
    assert policy.refresh_at(T0, T0 + timedelta(minutes=20)) == T0 + timedelta(minutes=15)


def test_links_shorter_than_twice_the_floor_are_due_at_mid_life():
    policy = RefreshPolicy(floor=timedelta(minutes=5))
    assert policy.refresh_at(T0, T0 + timedelta(seconds=6)) == T0 + timedelta(seconds=3)


def test_credentials_expiry_pulls_the_refresh_forward():
    policy = RefreshPolicy()
    creds_bound = T0 + timedelta(minutes=30)  # expires_at already bounded by the credentials
    assert policy.refresh_at(T0, creds_bound) < creds_bound
    assert policy.refresh_at(T0, creds_bound) == T0 + timedelta(minutes=24)


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_bad_fractions_are_refused(fraction):
    with pytest.raises(ValueError, match="fraction"):
        RefreshPolicy(fraction=fraction)


def test_refreshing_stops_at_refresh_until():
    until = T0 + timedelta(hours=1)
    assert keeps_refreshing(True, until, T0)
    assert not keeps_refreshing(True, until, until)
    assert not keeps_refreshing(False, None, T0)
    assert keeps_refreshing(True, None, T0 + timedelta(days=400))


def test_the_last_signature_does_not_outlive_refresh_until():
    until = T0 + timedelta(minutes=10)
    assert next_ttl(T0, 3600, until) == 600  # ends at refresh_until
    assert next_ttl(T0, 3600, None) == 3600
    assert next_ttl(T0, 300, until) == 300
    assert next_ttl(until - timedelta(milliseconds=300), 3600, until) == 1  # never 0


def test_a_signature_reaching_refresh_until_is_the_last_one():
    policy = RefreshPolicy(fraction=0.2, floor=timedelta(0))
    until = T0 + timedelta(hours=2)
    assert planned_refresh(policy, T0, T0 + timedelta(hours=1), until) == T0 + timedelta(minutes=48)
    assert planned_refresh(policy, T0, T0 + timedelta(hours=2), until) is None
    just_under = until - timedelta(milliseconds=400)  # a TTL in whole seconds, capped at until
    assert planned_refresh(policy, T0, just_under, until) is None
    assert planned_refresh(policy, T0, T0 + timedelta(hours=1), None) == T0 + timedelta(minutes=48)


def test_a_batchs_links_come_due_spread_between_its_margin_and_the_minimum_plus_backlog():
    minimum, backlog = timedelta(minutes=2), timedelta(seconds=30)
    policy = RefreshPolicy(floor=timedelta(minutes=5), minimum=minimum, backlog=backlog)
    expires = T0 + timedelta(minutes=20)
    first, last = policy.refresh_at(T0, expires, 0.0), policy.refresh_at(T0, expires, 0.999999)

    assert first == expires - timedelta(minutes=5)  # the whole margin
    assert abs(last - (expires - minimum - backlog)) < timedelta(milliseconds=1)
    assert policy.refresh_at(T0, expires, 0.5) == expires - timedelta(minutes=3, seconds=45)


def test_the_margin_in_force_makes_room_for_re_signing_the_batch_twice_over():
    # a batch the pools take 10 minutes to re-sign: the floor in force is 2 + 2 × 10 min
    policy = RefreshPolicy(
        floor=timedelta(minutes=5), minimum=timedelta(minutes=2), backlog=timedelta(minutes=10)
    )
    assert policy.margin(timedelta(hours=2)) == timedelta(minutes=24)
    assert policy.spread(timedelta(minutes=24)) == timedelta(minutes=12)  # ≥ the backlog
    # capped at half the life: less room to spread, never more than the life allows
    assert policy.margin(timedelta(minutes=30)) == timedelta(minutes=15)
    assert policy.spread(timedelta(minutes=15)) == timedelta(minutes=3)


def test_a_chunks_links_stay_together_and_chunks_spread_over_the_window():
    first = spread_positions(0, ["b", "a", "c"])
    assert first["a"] < first["b"] < first["c"] < 0.001  # key order, together
    starts = sorted(min(spread_positions(index, ["k"]).values()) for index in range(10))
    gaps = [later - earlier for earlier, later in pairwise(starts)]
    assert all(0 <= start < 1 for start in starts) and max(gaps) < 0.2  # no clump, no hole
