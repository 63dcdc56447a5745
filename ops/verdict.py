"""Whether the work is being done, decided from observed values (pure: no I/O, no settings).

Each check is ok, failing (named in the 503) or not measured (when what it relies on is down:
queue heartbeats are sent by beat, so with beat down they say nothing about the workers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Limits:
    beat_max_age: int  # seconds since beat last sent a heartbeat
    queue_max_age: dict[str, int]  # queue -> seconds since a worker last took one
    refresh_max_lag: int  # seconds the oldest due link may wait for its refresh
    delivery_max_lag: int  # seconds the oldest due delivery may wait
    lease_lost_window: int = 300  # seconds a refresh chunk's lost lease is reported
    takeover_lost_window: int = 600  # seconds a lost take-over of a first contact is reported
    refresh_margin: int = 0  # seconds: the shortest margin in force (refresh/margin.py)
    retention_failure_window: int = 7200  # seconds a purge run's undone work is reported
    retention_max_age: int = 10800  # seconds since a purge run last completed


@dataclass(frozen=True)
class Observed:
    now: datetime
    services: dict[str, str | None]  # name -> None when it answered, else what went wrong
    heartbeats: dict[str, datetime] = field(default_factory=dict)
    oldest_due_refresh: datetime | None = None
    oldest_due_delivery: datetime | None = None
    lease_lost_at: datetime | None = None  # when a refresh chunk last lost its lease
    takeover_lost_at: datetime | None = None  # when quarantine last found a take-over's claim gone
    refresh_projected: float = 0.0  # seconds the pools need for links due within the margin
    purge_completed_at: datetime | None = None  # when a purge run last completed (None: never)
    purge_failed_at: datetime | None = None  # when a purge run last left work undone


@dataclass(frozen=True)
class Check:
    ok: bool | None  # None: not measured
    detail: str
    seconds: float | None = None

    def as_dict(self) -> dict[str, object]:
        status = "ok" if self.ok else "not measured" if self.ok is None else "failing"
        body: dict[str, object] = {"status": status, "detail": self.detail}
        if self.seconds is not None:
            body["seconds"] = round(self.seconds, 1)
        return body


@dataclass(frozen=True)
class Verdict:
    checks: dict[str, Check]

    @property
    def failing(self) -> list[str]:
        return [name for name, check in self.checks.items() if check.ok is False]

    @property
    def healthy(self) -> bool:
        return not self.failing


def age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())


def lag(now: datetime, due_since: datetime | None) -> float:
    """How long the oldest due item has waited (0 when nothing is due yet)."""
    return age(now, due_since) or 0.0


def beat_check(observed: Observed, limits: Limits) -> Check:
    seconds = age(observed.now, observed.heartbeats.get("beat"))
    if seconds is None:
        return Check(False, "beat has never sent a heartbeat: is exactly one beat running?")
    if seconds > limits.beat_max_age:
        return Check(
            False, f"beat's last heartbeat is {seconds:.0f}s old (limit {limits.beat_max_age}s)"
        )
    return Check(True, f"last heartbeat {seconds:.0f}s ago", seconds)


def queue_check(queue: str, observed: Observed, limits: Limits, beat_ok: bool) -> Check:
    if not beat_ok:
        return Check(None, "not measured: beat, which sends the heartbeats, is down")
    limit = limits.queue_max_age[queue]
    seconds = age(observed.now, observed.heartbeats.get(f"queue:{queue}"))
    if seconds is None or seconds > limit:
        when = "never" if seconds is None else f"{seconds:.0f}s ago"
        return Check(
            False,
            f"no worker took a heartbeat from queue {queue!r} within {limit}s (last: {when})",
            seconds,
        )
    return Check(True, f"a worker took a heartbeat {seconds:.0f}s ago", seconds)


def lag_check(what: str, seconds: float, limit: int) -> Check:
    if seconds > limit:
        return Check(
            False, f"the oldest due {what} has waited {seconds:.0f}s (limit {limit}s)", seconds
        )
    return Check(True, f"the oldest due {what} has waited {seconds:.0f}s", seconds)


def lost_work_check(seconds: float | None, window: int, quiet: str, lost: str) -> Check:
    """Fails for `window` seconds after work was lost `seconds` ago (`lost` takes the age)."""
    if seconds is None or seconds > window:
        return Check(True, quiet)
    return Check(False, lost.format(age=f"{seconds:.0f}s"), seconds)


def lease_check(observed: Observed, limits: Limits) -> Check:
    return lost_work_check(
        age(observed.now, observed.lease_lost_at),
        limits.lease_lost_window,
        "no refresh chunk lost its lease lately",
        "a refresh chunk lost its lease {age} ago: its links were re-signed but not saved "
        "(LINKS_REFRESH_LEASE too short for LINKS_REFRESH_CHUNK at the rate S3 answers)",
    )


def takeover_check(observed: Observed, limits: Limits) -> Check:
    return lost_work_check(
        age(observed.now, observed.takeover_lost_at),
        limits.takeover_lost_window,
        "no cut-off first contact lost its claim lately",
        "a first contact cut off in deliveries lost its claim {age} ago, before quarantine "
        "took it over (quarantine behind: raise QUARANTINE_CONCURRENCY or DELIVERY_LEASE_GRACE)",
    )


def backlog_check(observed: Observed, limits: Limits) -> Check:
    projected, margin = observed.refresh_projected, limits.refresh_margin
    if margin and projected > margin:
        return Check(
            False,
            f"the links due within the next {margin}s take {projected:.0f}s to re-sign at the "
            "measured rate: the pools fall behind (raise LINKS_REFRESH_PARALLEL, add upkeep "
            "workers)",
            projected,
        )
    return Check(True, f"links due within {margin}s take {projected:.0f}s to re-sign", projected)


def retention_check(observed: Observed, limits: Limits) -> Check:
    """Fails when the last purge run left work undone lately, or when purges stopped; a fresh
    install, where none has completed yet, is not failing."""
    completed = age(observed.now, observed.purge_completed_at)
    if completed is None:
        return Check(True, "no purge run has completed yet (one runs each RETENTION_INTERVAL)")
    if completed > limits.retention_max_age:
        return Check(
            False,
            f"no purge run has completed for {completed:.0f}s (limit {limits.retention_max_age}s)"
            ": does beat send retention.purge_expired_records and an upkeep worker take it?",
            completed,
        )
    failed = age(observed.now, observed.purge_failed_at)
    last_run_failed = failed is not None and failed <= completed
    if last_run_failed and failed is not None and failed <= limits.retention_failure_window:
        return Check(
            False,
            f"the last purge run, {failed:.0f}s ago, left work undone (a lock it would wait for, "
            "a manifest the bucket refused): see its ERROR log; the next run tries again",
            failed,
        )
    return Check(True, f"the last purge run completed {completed:.0f}s ago", completed)


def judge(observed: Observed, limits: Limits) -> Verdict:
    checks: dict[str, Check] = {
        name: Check(True, "answered") if error is None else Check(False, error)
        for name, error in observed.services.items()
    }
    database_ok = observed.services.get("database") is None
    if not database_ok:
        return Verdict(checks)  # heartbeats and lags live in the database
    checks["beat"] = beat_check(observed, limits)
    for queue in limits.queue_max_age:
        checks[f"queue:{queue}"] = queue_check(queue, observed, limits, bool(checks["beat"].ok))
    refresh_lag = lag(observed.now, observed.oldest_due_refresh)
    checks["refresh_lag"] = lag_check("link", refresh_lag, limits.refresh_max_lag)
    checks["refresh_leases"] = lease_check(observed, limits)
    checks["refresh_backlog"] = backlog_check(observed, limits)
    delivery_lag = lag(observed.now, observed.oldest_due_delivery)
    checks["delivery_lag"] = lag_check("delivery", delivery_lag, limits.delivery_max_lag)
    checks["delivery_takeovers"] = takeover_check(observed, limits)
    checks["retention"] = retention_check(observed, limits)
    return Verdict(checks)
