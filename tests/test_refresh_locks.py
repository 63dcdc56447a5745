"""A refresh pass calls S3 with no row lock held and no transaction open: a revocation never
waits for it and is never overwritten; leases keep two passes off the same link."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.test import override_settings
from django.utils import timezone

from common import metrics
from tasks.events import announce
from tasks.models import ShareLink
from tasks.refresh import claims, meter, refresher
from tasks.revocation.revoke import revoke
from tests.batches import unique_prefix
from tests.helpers import download
from tests.refresh_helpers import event_links, issue_in_process

pytestmark = [pytest.mark.s3]
HOOK = {"webhook": "http://127.0.0.1:9/hook"}


def due_batch(put_object, count=3, **request):
    prefix = unique_prefix("locks")
    keys = [put_object(f"{prefix}{n}.txt", f"body {n}".encode()) for n in range(count)]
    batch = issue_in_process(keys, expires_in=600, refresh=True, **request)
    batch.links.update(refresh_at=timezone.now())
    return batch


class Pause:
    """Wraps the pass's S3 HEADs: notes whether a transaction is open, and can hold them."""

    def __init__(self, monkeypatch, hold: bool) -> None:
        self.real = refresher.missing_keys
        self.inside_transaction: list[bool] = []
        self.reached, self.release = threading.Event(), threading.Event()
        if not hold:
            self.release.set()
        monkeypatch.setattr(refresher, "missing_keys", self)

    def __call__(self, *args, **kwargs):
        self.inside_transaction.append(connection.in_atomic_block)
        self.reached.set()
        assert self.release.wait(60)
        return self.real(*args, **kwargs)


@pytest.mark.django_db(transaction=True)
@override_settings(LINKS_LOCK_TIMEOUT=1)
def test_a_revoke_does_not_wait_for_a_pass_calling_s3(put_object, monkeypatch):
    batch = due_batch(put_object, recipients=[HOOK])
    revoked, *kept = batch.links.order_by("key")
    pause = Pause(monkeypatch, hold=True)
    reports: list[refresher.PassReport] = []

    def one_pass() -> None:
        try:
            reports.append(refresher.run_pass())
        finally:
            connections.close_all()

    thread = threading.Thread(target=one_pass)
    thread.start()
    try:
        assert pause.reached.wait(60), "the pass never reached its S3 calls"
        done = revoke(ShareLink.objects.filter(id=revoked.id))  # lock timeout: 1 s
    finally:
        pause.release.set()
        thread.join(60)

    assert (done.links, done.deliveries) == (1, 1)
    assert pause.inside_transaction and not any(pause.inside_transaction)
    assert reports and reports[0].refreshed >= 2
    assert sorted(batch.links.values_list("version", flat=True)) == [1, 2, 2]
    revoked.refresh_from_db()
    assert (revoked.status, revoked.version, revoked.refresh_at) == ("revoked", 1, None)
    assert [item["id"] for item in event_links(batch, "links.revoked")] == [revoked.id]
    assert sorted(item["id"] for item in event_links(batch, "links.refreshed")) == sorted(
        link.id for link in kept
    )


@pytest.mark.django_db(transaction=True)
@override_settings(EMAIL_LINK_LIMIT=2)
def test_a_large_emails_manifest_is_uploaded_outside_the_saving_transaction(
    put_object, monkeypatch
):
    batch = due_batch(put_object, count=4, recipients=[{"email": "ops@example.com"}])
    first = batch.links.order_by("key").first()
    writes: list[bool] = []
    real_writer = announce.manifest_writer

    def writer(batch):
        write = real_writer(batch)

        def noted(items):
            writes.append(connection.in_atomic_block)
            return write(items)

        return noted

    monkeypatch.setattr(announce, "manifest_writer", writer)
    pause = Pause(monkeypatch, hold=False)
    # a revocation lands between the checks and the save: the manifest is made again without it
    real = pause.real
    pause.real = lambda *args: (revoke(ShareLink.objects.filter(id=first.id)), real(*args))[1]

    report = refresher.run_pass()

    assert report.refreshed >= 3
    assert sorted(batch.links.values_list("version", flat=True)) == [1, 2, 2, 2]
    assert writes and not any(writes)  # every upload with no transaction open
    emails = (d for d in batch_deliveries(batch, "links.refreshed") if d.recipient.kind == "email")
    email = next(emails)
    listed = download(json.loads(email.payload)["data"]["manifest_url"]).text
    assert first.key not in listed
    assert all(link.key in listed for link in batch.links.exclude(id=first.id))


def batch_deliveries(batch, event_type):
    from notifications.models import Delivery

    return list(
        Delivery.objects.filter(subject=str(batch.id), event_type=event_type).select_related(
            "recipient"
        )
    )


@pytest.mark.django_db
def test_a_pass_whose_lease_ended_writes_nothing(put_object):
    batch = due_batch(put_object, count=2)
    now = timezone.now()
    lease = now + timedelta(seconds=120)

    taken, first = claims.take(now, 10, lease)  # then the pass dies: it never saves

    assert len(taken) == 2
    assert claims.take(now, 10, lease + timedelta(seconds=1))[0] == []  # another pass: nothing
    later = lease + timedelta(seconds=1)
    again, _ = claims.take(later, 10, later + timedelta(seconds=120))
    assert sorted(link.id for link in again) == sorted(link.id for link in taken)
    # the first pass, late, finds its lease gone: it may write none of them
    assert claims.held(first) == []
    with transaction.atomic():
        assert claims.release(first) == []
    assert set(batch.links.values_list("version", flat=True)) == {1}


@pytest.mark.django_db
@override_settings(LINKS_REFRESH_CHECK_EXISTS=False)
def test_a_late_pass_does_not_overwrite_the_pass_that_took_its_links_after_its_lease(
    put_object, caplog
):
    batch = due_batch(put_object, count=1)
    now = timezone.now()
    lease = now + timedelta(seconds=120)
    slow, held = claims.take(now, 10, lease)
    with time_machine.travel(lease + timedelta(seconds=5), tick=False):
        assert refresher.run_pass().refreshed == 1  # a second pass, after the lease

    lost_before = metrics.REFRESH_LEASES_LOST._value.get()
    plan = refresher.prepare(slow, held)  # the slow pass wakes up: too late to renew
    report = refresher.PassReport()
    with caplog.at_level(logging.ERROR, logger="tasks.refresh.refresher"):
        refresher.commit(plan, report)

    assert report.refreshed == 0
    assert batch.links.get().version == 2
    # and it says so: an ERROR naming the settings, the metric, the meter /healthz reads
    (said,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "lost their lease" in said and "LINKS_REFRESH_LEASE" in said
    assert "LINKS_REFRESH_CHUNK" in said
    assert metrics.REFRESH_LEASES_LOST._value.get() == lost_before + 1
    assert meter.current().lease_lost_at is not None
