"""A pass never loses its work silently: its lease is renewed while a chunk is prepared, chunks
are sized from the measured rate, and a lease too short for the chunk is a start-up warning."""

from __future__ import annotations

import logging
import time

import pytest
from django.test import override_settings
from django.utils import timezone

from tasks.refresh import lease, meter, refresher
from tests.batches import unique_prefix
from tests.refresh_helpers import issue_in_process

pytestmark = [pytest.mark.s3]


class SlowCheck:
    """The pass's existence check, taking `seconds` longer (a slow S3)."""

    def __init__(self, monkeypatch, seconds: float) -> None:
        self.real, self.seconds = refresher.missing_keys, seconds
        monkeypatch.setattr(refresher, "missing_keys", self)

    def __call__(self, *args, **kwargs):
        time.sleep(self.seconds)
        return self.real(*args, **kwargs)


@pytest.mark.django_db(transaction=True)
@override_settings(LINKS_REFRESH_LEASE=2)
def test_a_check_slower_than_the_lease_still_saves_its_chunk(put_object, monkeypatch, caplog):
    prefix = unique_prefix("lease")
    keys = [put_object(f"{prefix}{n}.txt", b"x") for n in range(5)]
    batch = issue_in_process(keys, expires_in=600, refresh=True)
    batch.links.update(refresh_at=timezone.now())
    SlowCheck(monkeypatch, seconds=3)  # the lease (2 s) runs out during the check

    with caplog.at_level(logging.ERROR):
        report = refresher.run_pass()

    assert (report.due, report.refreshed) == (5, 5)
    assert sorted(batch.links.values_list("version", flat=True)) == [2] * 5
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@override_settings(LINKS_REFRESH_LEASE=30, LINKS_REFRESH_CHUNK=1000)
def test_chunks_are_sized_to_a_third_of_the_lease_at_the_measured_rate():
    assert lease.chunk_size(500.0) == 1000  # 10 s of work
    assert lease.chunk_size(60.0) == 600  # a slow S3: 10 s of work
    assert lease.chunk_size(0.1) == 10  # never below 10


@pytest.mark.django_db
@override_settings(LINKS_REFRESH_CHUNK=1000, LINKS_REFRESH_PARALLEL=3, LINKS_REFRESH_RATE=400)
def test_the_measured_rate_replaces_the_documented_one():
    assert meter.capacity() == 1200  # LINKS_REFRESH_RATE × LINKS_REFRESH_PARALLEL until measured
    meter.record_chunk(10, 1.0, timezone.now())  # too few links to say anything
    assert meter.pass_rate() == 400
    meter.record_chunk(1000, 2.0, timezone.now())
    meter.record_chunk(1000, 1.0, timezone.now())
    assert meter.pass_rate() == pytest.approx(500 * 0.7 + 1000 * 0.3)


@override_settings(LINKS_REFRESH_CHUNK=1000, LINKS_REFRESH_RATE=100, LINKS_REFRESH_LEASE=10)
def test_a_lease_too_short_for_the_chunk_is_a_warning_naming_the_settings():
    [warning] = lease.check_lease()
    assert warning.id == "tasks.W011"
    assert "LINKS_REFRESH_LEASE (10 s)" in warning.msg
    assert "LINKS_REFRESH_CHUNK (1000)" in warning.msg
    assert "at least 20 s" in str(warning.hint)
    with override_settings(LINKS_REFRESH_LEASE=20):
        assert lease.check_lease() == []
