"""A schedule run by the real beat and worker processes against Redis, delivered to a webhook."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Delivery
from schedules.models import ScheduleRun
from tests.batches import unique_prefix, wait_until
from tests.helpers import download
from tests.schedules import make_schedule
from tests.services.celery_processes import BeatProcess

pytestmark = [pytest.mark.s3, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def runs_of(name: str) -> list[ScheduleRun]:
    return list(ScheduleRun.objects.filter(schedule__name=name).order_by("scheduled_for"))


def test_a_due_schedule_is_run_by_beat_delivered_and_the_next_run_sends_nothing_new(
    celery_worker, test_database_url, put_object, endpoint
):
    prefix = unique_prefix("beat")
    reports = {f"{prefix}week-47.csv": b"week,47\n", f"{prefix}week-48.csv": b"week,48\n"}
    for key, body in reports.items():
        put_object(key, body)
    hook = endpoint()
    # Every minute; the occurrence of the last minute is due as soon as beat ticks.
    schedule = make_schedule(
        "every-minute",
        cron="* * * * *",
        prefix=prefix,
        selection="new_since_last_run",
        since=timezone.now() - timedelta(seconds=90),
    )
    schedule.recipients.set([hook.recipient])
    beat = BeatProcess(test_database_url).start()
    try:
        first = wait_until(lambda: runs_of("every-minute"), timeout=60)[0]
        assert (first.outcome, first.selected, first.trigger) == ("batch_created", 2, "beat")
        hook.receiver.wait_for(1, timeout=60)
        [payload] = hook.verified()
        assert payload["type"] == "links.issued"
        assert payload["data"]["batch"] == str(first.batch_id)
        links = payload["data"]["links"]
        assert sorted(link["key"] for link in links) == sorted(reports)
        for link in links:
            assert download(link["url"]).content == reports[link["key"]]

        # The next minute's run finds nothing new under the prefix.
        second = wait_until(lambda: runs_of("every-minute")[1:], timeout=90)[0]
        time.sleep(2)  # give a wrongly made delivery the time to arrive
    finally:
        beat.stop()

    assert second.scheduled_for - first.scheduled_for == timedelta(minutes=1)
    assert (second.outcome, second.batch, second.selected) == ("empty", None, 0)
    assert "nothing new under" in second.message
    assert len(hook.receiver.requests) == 1
    assert Delivery.objects.count() == 1
    assert len(runs_of("every-minute")) == 2
