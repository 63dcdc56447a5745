"""/healthz's judgement on observed values: which checks fail, and what they say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ops.verdict import Limits, Observed, judge

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LIMITS = Limits(
    beat_max_age=60,
    queue_max_age={"upkeep": 120, "deliveries": 120, "bulk": 1800},
    refresh_max_lag=300,
    delivery_max_lag=600,
)
ANSWERED = {"database": None, "broker": None, "media_bucket": None}


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def fresh_heartbeats(**overrides: float) -> dict[str, datetime]:
    ages = {"beat": 5.0, "queue:upkeep": 7.0, "queue:deliveries": 7.0, "queue:bulk": 7.0}
    ages.update({name.replace("__", ":"): value for name, value in overrides.items()})
    return {name: ago(value) for name, value in ages.items()}


def observed(**changes: object) -> Observed:
    values: dict[str, object] = {"services": ANSWERED, "heartbeats": fresh_heartbeats()}
    values.update(changes)
    return Observed(NOW, **values)  # type: ignore[arg-type]


def test_all_fresh_is_healthy():
    verdict = judge(observed(), LIMITS)
    assert verdict.healthy
    assert set(verdict.checks) == {
        "database", "broker", "media_bucket", "beat", "queue:upkeep", "queue:deliveries",
        "queue:bulk", "refresh_lag", "refresh_leases", "refresh_backlog", "delivery_lag",
        "delivery_takeovers", "retention",
    }  # fmt: skip


def test_a_fresh_install_where_no_purge_has_completed_yet_is_not_failing():
    check = judge(observed(), LIMITS).checks["retention"]
    assert check.ok is True and "no purge run has completed yet" in check.detail


def test_a_purge_run_that_left_work_undone_fails_until_a_clean_run_or_the_window():
    limits = Limits(**{**vars(LIMITS), "retention_failure_window": 7200})
    failed = judge(observed(purge_completed_at=ago(60), purge_failed_at=ago(60)), limits)
    assert failed.failing == ["retention"]
    assert "left work undone" in failed.checks["retention"].detail
    clean_since = observed(purge_completed_at=ago(60), purge_failed_at=ago(3660))
    assert judge(clean_since, limits).healthy  # the last run did its work
    long_ago = observed(purge_completed_at=ago(7201), purge_failed_at=ago(7201))
    assert judge(long_ago, limits).healthy


def test_no_purge_completed_for_longer_than_the_limit_fails():
    limits = Limits(**{**vars(LIMITS), "retention_max_age": 10800})
    assert judge(observed(purge_completed_at=ago(10799)), limits).healthy
    stopped = judge(observed(purge_completed_at=ago(10801)), limits)
    assert stopped.failing == ["retention"]
    assert "retention.purge_expired_records" in stopped.checks["retention"].detail


def test_a_lost_refresh_lease_fails_until_the_window_passes():
    limits = Limits(**{**vars(LIMITS), "lease_lost_window": 300})
    recent = judge(observed(lease_lost_at=ago(42)), limits)
    assert recent.failing == ["refresh_leases"]
    assert "LINKS_REFRESH_LEASE" in recent.checks["refresh_leases"].detail
    assert judge(observed(lease_lost_at=ago(301)), limits).healthy


def test_a_lost_take_over_of_a_first_contact_fails_until_the_window_passes():
    limits = Limits(**{**vars(LIMITS), "takeover_lost_window": 600})
    recent = judge(observed(takeover_lost_at=ago(42)), limits)
    assert recent.failing == ["delivery_takeovers"]
    assert "QUARANTINE_CONCURRENCY" in recent.checks["delivery_takeovers"].detail
    assert judge(observed(takeover_lost_at=ago(601)), limits).healthy


def test_a_projected_refresh_backlog_longer_than_the_margin_fails():
    limits = Limits(**{**vars(LIMITS), "refresh_margin": 120})
    assert judge(observed(refresh_projected=119.0), limits).healthy
    behind = judge(observed(refresh_projected=400.0), limits)
    assert behind.failing == ["refresh_backlog"]
    assert behind.checks["refresh_backlog"].as_dict()["seconds"] == 400.0


def test_old_beat_heartbeat_fails_beat_and_leaves_queues_unmeasured():
    verdict = judge(observed(heartbeats=fresh_heartbeats(beat=61)), LIMITS)
    assert verdict.failing == ["beat"]
    assert "61s old (limit 60s)" in verdict.checks["beat"].detail
    assert verdict.checks["queue:upkeep"].ok is None
    assert verdict.checks["queue:upkeep"].as_dict()["status"] == "not measured"


def test_beat_never_seen_fails():
    heartbeats = fresh_heartbeats()
    del heartbeats["beat"]
    assert judge(observed(heartbeats=heartbeats), LIMITS).failing == ["beat"]


def test_queue_without_a_consuming_worker_fails_by_name():
    verdict = judge(observed(heartbeats=fresh_heartbeats(queue__upkeep=121)), LIMITS)
    assert verdict.failing == ["queue:upkeep"]
    assert "'upkeep'" in verdict.checks["queue:upkeep"].detail


def test_each_queue_has_its_own_limit():
    verdict = judge(observed(heartbeats=fresh_heartbeats(queue__bulk=1000)), LIMITS)
    assert verdict.healthy


def test_refresh_lag_over_the_limit_is_links_at_risk():
    verdict = judge(observed(oldest_due_refresh=ago(301)), LIMITS)
    assert verdict.failing == ["refresh_lag"]
    assert verdict.checks["refresh_lag"].seconds == 301


def test_a_link_due_in_the_future_is_no_lag():
    verdict = judge(observed(oldest_due_refresh=NOW + timedelta(hours=1)), LIMITS)
    assert verdict.checks["refresh_lag"].seconds == 0
    assert verdict.healthy


def test_delivery_lag_over_the_limit_fails():
    assert judge(observed(oldest_due_delivery=ago(601)), LIMITS).failing == ["delivery_lag"]


def test_database_down_reports_only_the_services():
    services = {**ANSWERED, "database": "failed: OperationalError"}
    verdict = judge(Observed(NOW, services), LIMITS)
    assert verdict.failing == ["database"]
    assert "beat" not in verdict.checks


def test_several_failures_are_all_named():
    verdict = judge(
        observed(
            services={**ANSWERED, "broker": "failed: OperationalError"},
            oldest_due_refresh=ago(900),
        ),
        LIMITS,
    )
    assert verdict.failing == ["broker", "refresh_lag"]
