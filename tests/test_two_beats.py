"""Two beats on one database (item 9 of issue 21): an operator runs a second beat so that
losing a host does not stop refreshes. Both send every periodic task; each task claims its
work (SKIP LOCKED, conditional UPDATE, unique rows) or is idempotent, so the work is done once.

Real processes: two beats with the project's DatabaseScheduler started at the same moment on
the test database, the worker pools of the Procfile, LocalStack S3, a loopback webhook.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from notifications.models import Delivery
from schedules.models import ScheduleRun
from tasks.models import ShareLink
from tests.batches import unique_prefix, wait_until
from tests.refresh_helpers import issue_in_process
from tests.schedules import make_schedule
from tests.services.celery_processes import BeatProcess

pytestmark = [pytest.mark.s3, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FAST = {  # every periodic task sent each second by each beat
    "LINKS_SWEEP_INTERVAL": "1",
    "DELIVERY_SWEEP_INTERVAL": "1",
    "LINKS_REFRESH_INTERVAL": "1",
    "LINKS_LAPSE_INTERVAL": "1",
    "SCHEDULES_TICK_INTERVAL": "1",
}

# Every beat entry and what makes a second beat harmless (docs/operations.md says the same).
GUARDS = {
    "tasks.resume_stalled_batches": "claims stale chunks with SELECT … FOR UPDATE SKIP LOCKED",
    "notifications.sweep": "a lane's run claims its deliveries by conditional UPDATE",
    "tasks.refresh_links": "takes one at a time, skipping leased runs; writes only under its lease",
    "tasks.lapse_links": "takes expired links with SKIP LOCKED, one event per batch",
    "schedules.tick": "the schedule row lock and a unique run per (schedule, time)",
    "ops.heartbeat": "idempotent: it records the time it was taken",
    "retention.purge_expired_records": "one purge at a time (an advisory lock); SKIP LOCKED chunks",
}


def test_every_periodic_task_has_a_guard_against_a_second_beat():
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert names == set(GUARDS)


def start_together(count: int, url: str) -> list[BeatProcess]:
    beats = [BeatProcess(url, extra_env=FAST) for _ in range(count)]
    errors: list[BaseException] = []

    def start(beat: BeatProcess) -> None:
        try:
            beat.start()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=start, args=(beat,)) for beat in beats]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return beats


def test_two_beats_do_each_piece_of_work_once(
    celery_worker, test_database_url, put_object, endpoint
):
    prefix = unique_prefix("twobeats")
    for name in ("a.csv", "b.csv"):
        put_object(f"{prefix}{name}", b"x\n")
    hook = endpoint()
    schedule = make_schedule(
        "two-beats",
        cron="* * * * *",
        prefix=prefix,
        since=timezone.now() - timedelta(seconds=90),
    )
    schedule.recipients.set([hook.recipient])
    refreshing = issue_in_process(
        [f"{prefix}a.csv", f"{prefix}b.csv"], expires_in=3600, refresh=True
    )
    ShareLink.objects.filter(batch=refreshing).update(refresh_at=timezone.now())
    lapsing = issue_in_process(
        [f"{prefix}a.csv"],
        expires_in=600,
        recipients=[{"webhook": hook.receiver.url}],
        notify_lapsed=True,
    )
    ShareLink.objects.filter(batch=lapsing).update(expires_at=timezone.now())

    beats = start_together(2, test_database_url)
    try:
        run = wait_until(lambda: list(ScheduleRun.objects.filter(schedule=schedule)), timeout=60)[0]
        wait_until(
            lambda: not ShareLink.objects.filter(batch=refreshing, version=1).exists(), timeout=60
        )
        wait_until(lambda: Delivery.objects.filter(event_type="links.lapsed").exists(), timeout=60)
        time.sleep(6)  # each beat sends every task about six more times
        for beat in beats:
            assert beat.process is not None and beat.process.poll() is None, beat.log()
    finally:
        for beat in beats:
            beat.stop()

    assert ScheduleRun.objects.filter(schedule=schedule).count() == 1
    assert run.outcome == "batch_created"
    assert sorted(ShareLink.objects.filter(batch=refreshing).values_list("version", flat=True)) == [
        2,
        2,
    ]
    lapsed = Delivery.objects.filter(subject=str(lapsing.id), event_type="links.lapsed")
    assert lapsed.count() == 1
    issued = Delivery.objects.filter(subject=str(run.batch_id), event_type="links.issued")
    assert issued.count() == 1
    wait_until(lambda: len(hook.receiver.requests) >= 3, timeout=30)
    time.sleep(2)  # a duplicate send would arrive meanwhile
    ids = [
        {name.lower(): value for name, value in request.headers.items()}["webhook-id"]
        for request in hook.receiver.requests
    ]
    assert len(ids) == len(set(ids)) == 3, ids  # issued (schedule), issued + lapsed (batch)
