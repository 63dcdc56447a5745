"""Retention: what ended long ago goes, in chunks; nothing alive is ever purged."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from common.purging import Pace
from notifications.models import Attempt, MessageBody
from retention import run
from schedules.models import Schedule, ScheduleRun, crontab_for
from tasks.models import Batch, BatchChunk, Revocation, ShareLink, SkippedKey
from tests.retention_data import ago, batch, delivery, extras, links

pytestmark = pytest.mark.django_db


def purge(chunk: int = 1000) -> dict[str, int]:
    tally = run.purge_all(timezone.now(), Pace(chunk=chunk))
    assert tally is not None and not tally.failures and not tally.more
    return dict(tally.rows)


def exists(row: object) -> bool:
    return type(row).objects.filter(pk=row.pk).exists()  # type: ignore[attr-defined]


ENDED_LONG_AGO = {
    "expired without refresh": {"status": "active", "refresh_at": None},
    "refresh ended 200 days ago": {
        "status": "active",
        "refresh_at": ago(201),
        "refresh_until": ago(200),
    },
    "lapsed": {"status": "lapsed"},
    "revoked": {"status": "revoked", "revoked_at": ago(150)},
}
KEPT = {
    "still refreshing (late, however old)": {
        "status": "active",
        "refresh_at": ago(300),
        "refresh_until": None,
    },
    "refreshing until next year": {
        "status": "active",
        "refresh_at": ago(300),
        "refresh_until": ago(-365),
    },
    "alive": {"status": "active", "expires_at": ago(-1)},
    "lapsed 10 days ago": {"status": "lapsed", "expires_at": ago(10)},
    "revoked 10 days ago": {"status": "revoked", "revoked_at": ago(10)},
}


@pytest.mark.parametrize("state", ENDED_LONG_AGO.values(), ids=ENDED_LONG_AGO.keys())
def test_a_finished_batch_whose_links_ended_long_ago_goes_with_all_it_holds(state):
    old = batch()
    links(old, 3, **state)
    extras(old)
    Revocation.objects.create(batch=old, status="done", finished_at=ago(150))

    purged = purge(chunk=2)

    assert not exists(old)
    assert purged["share_link"] == 3 and purged["batch"] == 1
    for model in (ShareLink, BatchChunk, SkippedKey, Revocation):
        assert not model.objects.filter(batch_id=old.id).exists()


@pytest.mark.parametrize("state", KEPT.values(), ids=KEPT.keys())
def test_a_link_that_has_not_ended_long_ago_keeps_its_batch_and_every_link(state):
    old = batch()
    ended = links(old, 2)
    [held] = links(old, 1, **state)

    purge()

    assert exists(old) and exists(held) and all(exists(link) for link in ended)


@pytest.mark.parametrize("status", ["pending", "signing", "delivering"])
def test_a_batch_still_at_work_is_never_purged(status):
    old = batch(status=status, finished=None, created_at=ago(400))
    links(old, 2)
    purge()
    assert exists(old) and ShareLink.objects.filter(batch=old).count() == 2


def test_a_batch_finished_recently_and_one_with_an_unfinished_revocation_are_kept():
    recent = batch(finished=10)
    links(recent)
    revoking = batch()
    links(revoking)
    Revocation.objects.create(batch=revoking, status="revoking")
    purge()
    assert exists(recent) and exists(revoking)


def test_schedule_runs_keep_their_history_without_the_purged_batch():
    old = batch()
    links(old)
    schedule = Schedule.objects.create(
        name="weekly",
        crontab=crontab_for("0 8 * * 1", "UTC"),
        prefix="r/",
        selection="all",
        expires_in=3600,
        last_batch=old,
    )
    last = ScheduleRun.objects.create(
        schedule=schedule, scheduled_for=ago(100), outcome="batch_created", batch=old
    )
    purge()
    last.refresh_from_db()
    schedule.refresh_from_db()
    assert last.batch is None and schedule.last_batch is None


def test_old_schedule_runs_go_but_never_a_schedules_last_run():
    tab = crontab_for("0 8 * * 1", "UTC")
    busy = Schedule.objects.create(
        name="busy", crontab=tab, prefix="r/", selection="all", expires_in=3600
    )
    quiet = Schedule.objects.create(
        name="quiet", crontab=tab, prefix="r/", selection="all", expires_in=3600
    )
    old = [
        ScheduleRun.objects.create(schedule=busy, scheduled_for=ago(d), outcome="empty")
        for d in (800, 700, 400)
    ]
    recent = ScheduleRun.objects.create(schedule=busy, scheduled_for=ago(30), outcome="empty")
    only = ScheduleRun.objects.create(schedule=quiet, scheduled_for=ago(900), outcome="empty")

    assert purge(chunk=2)["schedule_run"] == 3

    assert not any(exists(r) for r in old)
    assert exists(recent) and exists(only)


def test_ended_deliveries_go_with_their_attempts_and_bodies_no_other_delivery_shares():
    shared = MessageBody.objects.create(text="{}")
    gone = delivery(attempts=3)
    also_gone = delivery(status="failed", body=shared, attempts=2)
    due = delivery(status="pending", created=400, body=shared, attempts=1)
    sending = delivery(status="sending", created=400)
    retried_lately = delivery(status="failed", created=40, attempts=2, last_attempt=5)
    recent = delivery(created=5)

    purged = purge(chunk=1)

    assert purged == {"attempt": 5, "delivery": 2, "message_body": 1}
    assert not exists(gone) and not exists(also_gone) and not exists(gone.body)
    assert not Attempt.objects.filter(delivery_id__in=[gone.id, also_gone.id]).exists()
    assert exists(shared)  # the pending delivery still needs it
    for kept in (due, sending, retried_lately, recent):
        assert exists(kept) and exists(kept.body)
    assert Attempt.objects.filter(delivery=due).count() == 1


def test_dry_run_counts_and_changes_nothing(settings):
    old = batch()
    links(old, 4)
    extras(old)
    ended = delivery(attempts=2)
    out = StringIO()

    call_command("purge", "--dry-run", stdout=out)

    text = out.getvalue()
    assert "keeping ended links, their batches, chunks, skipped keys and manifests: 90 days" in text
    assert "would purge (dry run: nothing deleted): " in text
    for shown in (
        "attempt 2",
        "batch 1",
        "batch_chunk 1",
        "delivery 1",
        "message_body 1",
        "share_link 4",
        "skipped_key 1",
    ):
        assert shown in text
    assert exists(old) and exists(ended) and ShareLink.objects.filter(batch=old).count() == 4

    call_command("purge", stdout=StringIO())
    assert not exists(old) and not exists(ended)


def test_the_windows_come_from_the_environment_settings(settings):
    settings.RETENTION_LINKS = 5 * 86400
    settings.RETENTION_DELIVERIES = 3 * 86400
    young = batch(finished=7)
    links(young, 1, expires_at=ago(6))
    ended = delivery(created=4)
    purge()
    assert not exists(young) and not exists(ended)


def test_a_purge_already_running_elsewhere_makes_this_one_step_aside(django_db_blocker):
    from django.db import connections

    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [run.LOCK_KEY])
        assert run.purge_all(timezone.now(), Pace(chunk=10)) is None
        out = StringIO()
        with pytest.raises(Exception, match="another purge is running"):
            call_command("purge", stdout=out)
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_a_link_row_someone_holds_is_skipped_and_its_batch_waits_for_the_next_run():
    """SKIP LOCKED: the purge never waits on a row the live path holds."""
    from django.db import connections

    old = batch()
    [held, *_] = links(old, 3)
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("SELECT id FROM tasks_sharelink WHERE id = %s FOR UPDATE", [held.id])
        purge()
    finally:
        other.rollback()
        other.close()
    assert exists(old) and exists(held) and ShareLink.objects.filter(batch=old).count() == 1
    purge()
    assert not exists(old)


@pytest.mark.parametrize("chunk", [1, 7])
def test_batches_of_many_links_are_purged_whole_in_small_chunks(chunk):
    olds = [batch() for _ in range(3)]
    for old in olds:
        links(old, 10)
    live = batch()
    links(live, 5, status="active", refresh_at=ago(1))
    purged = purge(chunk=chunk)
    assert purged["share_link"] == 30 and purged["batch"] == 3
    assert not Batch.objects.filter(id__in=[b.id for b in olds]).exists()
    assert ShareLink.objects.filter(batch=live).count() == 5


def test_finished_revocations_by_link_ids_go_after_the_links_window():
    old = Revocation.objects.create(link_ids=[1, 2], status="done", finished_at=ago(100))
    recent = Revocation.objects.create(link_ids=[3], status="done", finished_at=ago(10))
    running = Revocation.objects.create(link_ids=[4], status="revoking")
    purge()
    assert not exists(old) and exists(recent) and exists(running)


def test_delivery_counts_by_table_are_recorded_in_the_metrics():
    from common.metrics import RETENTION_PURGED

    before = RETENTION_PURGED.labels("attempt")._value.get()
    delivery(attempts=2)
    purge()
    assert RETENTION_PURGED.labels("attempt")._value.get() - before == 2


@pytest.mark.parametrize(
    ("page", "shown"),
    [
        ("admin:tasks_batch_changelist", "Kept until 12 days after they ended (RETENTION_LINKS)"),
        ("admin:tasks_sharelink_changelist", "Kept until 12 days after they ended"),
        ("admin:notifications_delivery_changelist", "Kept until 3 days after they ended"),
        ("admin:schedules_schedule_changelist", "Runs kept 400 days"),
    ],
)
def test_the_admin_shows_the_windows_in_force(client, django_user_model, settings, page, shown):
    from django.urls import reverse

    settings.RETENTION_LINKS = 12 * 86400
    settings.RETENTION_DELIVERIES = 3 * 86400
    settings.RETENTION_SCHEDULE_RUNS = 400 * 86400
    client.force_login(django_user_model.objects.create_superuser("op", "op@example.com", "pw"))
    response = client.get(reverse(page))
    assert response.status_code == 200
    assert shown in response.content.decode()


def test_the_purge_runs_hourly_from_beat_on_the_upkeep_queue(settings):
    from project.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["retention-purge"]
    assert entry["task"] == "retention.purge_expired_records"
    assert entry["schedule"] == settings.RETENTION_INTERVAL == 3600
    route = app.amqp.router.route({}, entry["task"])
    assert route["queue"].name == settings.QUEUE_UPKEEP


def test_the_beat_task_purges_and_reports_what_it_removed():
    from retention.tasks import purge_expired_records

    old = batch()
    links(old, 3)
    result = purge_expired_records()
    assert result["purged"]["share_link"] == 3 and result["more"] is False
    assert not exists(old)


@pytest.mark.django_db(transaction=True)
def test_a_lock_the_purge_would_wait_for_leaves_the_batch_to_the_next_run_without_waiting(
    client, settings
):
    """lock_timeout: the purge gives up on a held row at once instead of queueing behind it,
    and /healthz's `retention` check fails until a run does the work."""
    import time

    settings.HEALTH_CACHE_SECONDS = 0
    from django.db import connections

    old = batch()
    links(old, 2)
    schedule = Schedule.objects.create(
        name="held", crontab=crontab_for("0 8 * * 1", "UTC"), prefix="r/", selection="all",
        expires_in=3600,
    )  # fmt: skip
    run_row = ScheduleRun.objects.create(
        schedule=schedule, scheduled_for=ago(100), outcome="batch_created", batch=old
    )
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:  # the schedule tick holding its run row
            cursor.execute(
                "SELECT 1 FROM schedules_schedulerun WHERE id = %s FOR UPDATE", [run_row.id]
            )
        started = time.monotonic()
        tally = run.purge_all(timezone.now(), Pace(chunk=100))
        waited = time.monotonic() - started
    finally:
        other.rollback()
        other.close()
    assert tally is not None and tally.failures == [f"batch {old.id}: a lock is held"]
    assert exists(old) and waited < 5
    assert retention_health(client) == "failing"  # /healthz names what was left undone
    purge()
    assert not exists(old)
    assert retention_health(client) == "ok"  # the next run did it


def retention_health(client) -> str:
    """/healthz's `retention` check, with the answer not cached."""
    from django.core.cache import cache

    cache.clear()
    body = client.get("/healthz").json()
    assert ("retention" in body["failing"]) == (body["checks"]["retention"]["status"] != "ok")
    return str(body["checks"]["retention"]["status"])


def test_the_purge_rests_in_proportion_to_the_time_each_chunk_took(monkeypatch):
    import time

    clock = iter([100.0, 100.5, 200.0, 200.1])  # go_on, rest, go_on, rest
    slept = []
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(time, "sleep", slept.append)
    pace = Pace(chunk=10, duty=0.2)
    for _ in range(2):
        assert pace.go_on()
        pace.rest()
    assert slept == pytest.approx([2.0, 0.4])  # four times the 0.5 s and 0.1 s chunks
