"""Schedule runs against LocalStack and PostgreSQL: selection, one run per scheduled time,
daylight-saving changes of Europe/Paris at the tick level, empty runs, the command."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from media.clients import media_client
from media.listing import list_entries
from notifications.recipients import recipient_from_spec
from schedules import runs
from schedules.models import Schedule, ScheduleRun
from tasks.models import Batch, BatchChunk
from tests.batches import unique_prefix, upload_many, wait_for_batch
from tests.schedules import make_schedule

pytestmark = pytest.mark.s3
PARIS = ZoneInfo("Europe/Paris")


def chunk_keys(batch: Batch) -> set[str]:
    return {key for chunk in BatchChunk.objects.filter(batch=batch) for key in chunk.keys}


@pytest.mark.django_db
def test_newest_n_picks_by_last_modified_across_listing_pages(s3_server, media_bucket):
    prefix = unique_prefix("newest")
    older = {f"{prefix}m-{n:04d}.pdf": b"old" for n in range(1050)}
    upload_many(s3_server.client, media_bucket, older)
    time.sleep(1.1)  # LastModified has a second's resolution
    newer = [f"{prefix}a-first.pdf", f"{prefix}z-last-1.pdf", f"{prefix}z-last-2.pdf"]
    upload_many(s3_server.client, media_bucket, dict.fromkeys(newer, b"new"))
    pages = list(list_entries(media_client(), media_bucket, prefix))
    assert [len(page) for page in pages] == [1000, 53]  # the newest are on both pages
    make_schedule("finance-newest", prefix=prefix, selection="newest", newest_count=3)

    result = runs.run_now(runs.find_schedule("finance-newest").id, timezone.now())

    run = result.run
    assert (run.outcome, run.selected) == ("batch_created", 3)
    assert chunk_keys(run.batch) == set(newer)
    schedule = Schedule.objects.get(name="finance-newest")
    assert (schedule.last_batch_id, schedule.last_run_at) == (run.batch_id, run.started_at)


@pytest.mark.django_db
def test_the_batch_carries_the_schedules_ttl_refresh_and_recipients(put_object):
    prefix = unique_prefix("carry")
    put_object(f"{prefix}r.csv", b"r")
    schedule = make_schedule(
        "carry", prefix=prefix, expires_in=1800, refresh=True, refresh_for=timedelta(days=2)
    )
    hook = recipient_from_spec(None, {"webhook": "http://127.0.0.1:9/hook"}).recipient
    schedule.recipients.set([hook])

    run = runs.run_now(runs.find_schedule("carry").id, timezone.now()).run

    batch = run.batch
    assert (batch.expires_in, batch.refresh, batch.source) == (1800, True, "keys")
    assert abs(batch.refresh_until - (run.started_at + timedelta(days=2))) < timedelta(seconds=1)
    assert list(batch.recipients.all()) == [hook]


@pytest.mark.django_db
def test_an_empty_selection_sends_nothing_and_says_so_in_the_history(media_bucket):
    prefix = unique_prefix("nothing")
    make_schedule("empty", prefix=prefix, selection="all")

    run = runs.run_now(runs.find_schedule("empty").id, timezone.now()).run

    assert (run.outcome, run.batch, run.selected) == ("empty", None, 0)
    assert run.message == f"no objects under {prefix!r}: nothing was sent"
    assert not Batch.objects.exists()
    assert Schedule.objects.get(name="empty").last_run_at == run.started_at


@pytest.mark.django_db
def test_the_same_scheduled_time_dispatched_twice_makes_one_batch(put_object):
    prefix = unique_prefix("twice")
    put_object(f"{prefix}a.txt", b"a")
    start = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # a Monday, 07:00 in Paris
    make_schedule("weekly", cron="0 8 * * 1", prefix=prefix, since=start)
    tick_time = datetime(2026, 11, 2, 7, 0, 20, tzinfo=UTC)  # 08:00:20 Paris

    first = runs.tick(tick_time)
    again = runs.tick(tick_time)  # the same beat tick delivered again
    later = runs.tick(tick_time + timedelta(seconds=30))  # a restarted beat's tick

    assert [r.created for r in first] == [True]
    assert again == [] and later == []
    run = ScheduleRun.objects.get()
    assert run.scheduled_for == datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    assert Batch.objects.count() == 1
    by_hand = runs.run_now(runs.find_schedule("weekly").id, run.scheduled_for)
    assert (by_hand.created, by_hand.run.id) == (False, run.id)
    assert Batch.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatches_of_one_scheduled_time_make_one_batch(celery_worker, put_object):
    prefix = unique_prefix("race")
    put_object(f"{prefix}a.txt", b"a")
    make_schedule("race", cron="* * * * *", prefix=prefix)
    when = timezone.now().replace(second=0, microsecond=0)
    barrier = threading.Barrier(4)
    results: list[runs.RunResult] = []

    def dispatch() -> None:
        try:
            barrier.wait()
            results.append(runs.run_now(runs.find_schedule("race").id, when))
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.created for r in results) == [False, False, False, True]
    assert len({r.run.id for r in results}) == 1
    assert Batch.objects.count() == 1
    assert wait_for_batch(Batch.objects.get().id).signed == 1


def local_runs(schedule: Schedule) -> list[str]:
    return [
        run.scheduled_for.astimezone(PARIS).strftime("%m-%d %H:%M %Z")
        for run in schedule.runs.order_by("scheduled_for")
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "expected_half_past_two", "expected_eight"),
    [
        (
            datetime(2026, 3, 27, 12, tzinfo=UTC),
            ["03-28 02:30 CET", "03-29 03:00 CEST", "03-30 02:30 CEST"],
            ["03-28 08:00 CET", "03-29 08:00 CEST", "03-30 08:00 CEST"],
        ),
        (
            datetime(2026, 10, 23, 12, tzinfo=UTC),
            ["10-24 02:30 CEST", "10-25 02:30 CEST", "10-26 02:30 CET"],
            ["10-24 08:00 CEST", "10-25 08:00 CET", "10-26 08:00 CET"],
        ),
    ],
    ids=["spring", "autumn"],
)
def test_daylight_saving_changes_of_paris_neither_skip_nor_double_a_run(
    media_bucket, start, expected_half_past_two, expected_eight
):
    # Ticks every 10 minutes, each delivered twice, over three days around the change.
    prefix = unique_prefix("dst")
    night = make_schedule("night", cron="30 2 * * *", prefix=prefix, since=start)
    morning = make_schedule("morning", cron="0 8 * * *", prefix=prefix, since=start)
    now = start
    while now < start + timedelta(days=3):
        runs.tick(now)
        runs.tick(now)
        now += timedelta(minutes=10)

    assert local_runs(night) == expected_half_past_two
    assert local_runs(morning) == expected_eight
    for run in ScheduleRun.objects.all():
        assert timedelta(0) <= run.started_at - run.scheduled_for < timedelta(minutes=10)
        assert run.outcome == "empty"


@pytest.mark.django_db
def test_run_schedule_runs_one_schedule_now_and_prints_the_outcome(put_object, capsys):
    prefix = unique_prefix("cmd")
    put_object(f"{prefix}one.csv", b"1")
    make_schedule("by-hand", prefix=prefix, enabled=False)

    call_command("run_schedule", "by-hand", "--at", "2026-11-02T08:00:40+01:00")

    out = capsys.readouterr().out
    run = ScheduleRun.objects.get()
    assert run.scheduled_for == datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
    assert run.trigger == "manual"
    assert (
        f"run for 2026-11-02 08:00 Europe/Paris (07:00 UTC): batch_created — 1 object under "
        f"{prefix!r}; batch {run.batch_id}"
    ) in out


@pytest.mark.django_db
def test_run_schedule_names_what_is_wrong():
    with pytest.raises(CommandError, match="no schedule named 'nope'"):
        call_command("run_schedule", "nope")
    with pytest.raises(CommandError, match="--at: 'tuesday' is not an ISO date-time"):
        call_command("run_schedule", "nope", "--at", "tuesday")


@pytest.mark.django_db
def test_a_storage_outage_leaves_the_run_to_the_next_tick_and_a_refusal_is_recorded(
    media_bucket, put_object, monkeypatch
):
    prefix = unique_prefix("outage")
    put_object(f"{prefix}a.txt", b"a")
    start = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    make_schedule("outage", cron="0 8 * * 1", prefix=prefix, since=start)
    tick_time = datetime(2026, 11, 2, 7, 0, 20, tzinfo=UTC)

    def unreachable(*args, **kwargs):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566")

    with monkeypatch.context() as patched:
        patched.setattr(runs, "list_entries", unreachable)
        assert runs.tick(tick_time) == []
    assert not ScheduleRun.objects.exists()
    assert Schedule.objects.get(name="outage").covered_until == start

    [retried] = runs.tick(tick_time + timedelta(seconds=30))
    assert (retried.run.outcome, retried.run.selected) == ("batch_created", 1)

    def refused(*args, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "ListObjectsV2")

    monkeypatch.setattr(runs, "list_entries", refused)
    failed = runs.run_now(runs.find_schedule("outage").id, tick_time + timedelta(hours=1)).run
    assert failed.outcome == "failed" and failed.batch is None
    assert failed.message.startswith(f"listing {prefix!r} failed: ClientError")
