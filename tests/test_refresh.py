"""Refresh passes, lapsing, revocation and permalinks, in-process against the S3 that checks."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import botocore.session
import pytest
import time_machine
from botocore.credentials import RefreshableCredentials
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from media import factory
from media.factory import build_signer
from tasks.batches.linkstore import NewLink, copy_into_table
from tasks.models import Batch, ShareLink
from tasks.refresh import claims, lapsing, refresher, resign
from tasks.refresh.margin import current_minimum
from tasks.revocation.revoke import revoke
from tests.batches import unique_prefix
from tests.helpers import download, query, settings_like
from tests.refresh_helpers import event_links, issue_in_process

pytestmark = [pytest.mark.s3, pytest.mark.django_db]
HOOK = {"webhook": "http://127.0.0.1:9/hook"}


def objects(put_object, count=2, name="refresh"):
    prefix = unique_prefix(name)
    return {
        put_object(f"{prefix}{n}.txt", f"body {n}".encode()): f"body {n}".encode()
        for n in range(count)
    }


def test_issue_plans_the_refresh_only_for_refreshing_batches(put_object):
    bodies = objects(put_object)
    refreshing = issue_in_process(list(bodies), expires_in=600, refresh=True)
    plain = issue_in_process(list(bodies), expires_in=600)

    link = refreshing.links.get(key=min(bodies))
    # 600 s: 20 % is 120 s, under the 5-minute floor, which is capped at half the life; the
    # batch's links come due spread from there to the shortest margin in force
    margin = link.expires_at - link.refresh_at
    shortest = timedelta(seconds=current_minimum())
    assert shortest - timedelta(seconds=1) <= margin <= timedelta(seconds=301)
    assert not plain.links.filter(refresh_at__isnull=False).exists()


def test_a_due_link_is_resigned_once_downloads_and_is_announced(put_object):
    bodies = objects(put_object)
    batch = issue_in_process(list(bodies), expires_in=8, refresh=True, recipients=[HOOK])
    first = {link.id: link.url for link in batch.links.all()}
    assert refresher.run_pass().due == 0  # nothing due yet (refresh at mid-life: 4 s)

    time.sleep(
        4.2
    )  # the new refresh_at (whole seconds, as X-Amz-Date) is 4 s off: room for a slow pass
    report = refresher.run_pass()

    assert (report.due, report.refreshed, report.deliveries) == (2, 2, 1)
    for link in batch.links.all():
        assert link.version == 2 and link.url != first[link.id]
        assert download(link.url).content == bodies[link.key]
        assert link.refresh_at is not None and link.refresh_at > timezone.now()
    refreshed = event_links(batch, "links.refreshed")
    assert sorted(item["id"] for item in refreshed) == sorted(first)
    assert {item["url"] for item in refreshed} == set(batch.links.values_list("url", flat=True))
    assert refresher.run_pass().due == 0


def due_plan(tail: str = "") -> str:
    """EXPLAIN of the refresher's due query in its order (`tail`: e.g. a LIMIT)."""
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a tiny table: make the planner show its index
        sql, params = claims.due(timezone.now()).order_by(*claims.IN_ORDER).query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql} {tail}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET enable_seqscan = on")
    return plan


def test_the_due_query_uses_the_partial_index(put_object):
    issue_in_process(list(objects(put_object)), expires_in=600, refresh=True)
    assert "links_due_for_refresh" in due_plan()


def test_a_pass_reads_links_as_the_orm_does(put_object):
    batch = issue_in_process(list(objects(put_object, 3)), expires_in=600, refresh=True)
    batch.links.filter(id=batch.links.order_by("id")[0].id).update(
        refresh_until=timezone.now() + timedelta(days=2), filename="r\u00e9sum\u00e9.pdf"
    )
    in_order = batch.links.order_by("id")

    read = claims.read(in_order)

    as_orm = list(in_order.values_list(*claims.TAKEN_FIELDS))
    assert [tuple(getattr(link, name) for name in claims.TAKEN_FIELDS) for link in read] == as_orm
    assert read[0].refresh_until is not None and read[0].filename == "r\u00e9sum\u00e9.pdf"
    assert {link.expires_at.utcoffset() for link in read} == {timedelta(0)}


@pytest.mark.django_db(transaction=True)  # committed rows: the planner's statistics are real
def test_a_save_finds_its_links_by_their_key_not_by_a_scan_of_the_table():
    """A chunk's save joined on its scratch table alone let the planner read the whole link
    table (or its key index from the start) for every chunk."""
    now = timezone.now().replace(microsecond=0)
    batch = Batch.objects.create(source=Batch.Source.KEYS, bucket="b", expires_in=600)
    links = [
        NewLink(f"k/{n:05}", "https://old.invalid", now, now + timedelta(minutes=10))
        for n in range(5000)
    ]
    copy_into_table(batch, links)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_sharelink")
    saved = list(batch.links.order_by("id")[2000:2010])
    plans: list[str] = []

    def explain_first(execute, sql, params, many, context):
        if sql.startswith("UPDATE"):
            with context["connection"].cursor() as cursor:
                cursor.execute(f"EXPLAIN {sql}", params)
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
        return execute(sql, params, many, context)

    new = [resign.Resigned(link.id, "https://new.invalid", now, now, None, 1) for link in saved]
    with transaction.atomic(), connection.execute_wrapper(explain_first):
        assert sorted(resign.save(new, now)) == [link.id for link in saved]

    assert "Seq Scan on tasks_sharelink" not in plans[0], plans[0]
    assert "Index Cond: (id = ANY" in plans[0], plans[0]  # the key index, for these ids only


def test_links_due_at_one_instant_are_taken_in_issue_order_without_a_sort(put_object):
    keys = list(objects(put_object, count=6, name="tied"))
    batch = issue_in_process(keys, expires_in=600, refresh=True)
    batch.links.update(refresh_at=timezone.now())  # all due together, a full-table rewrite
    in_issue_order = list(batch.links.order_by("id").values_list("key", flat=True))
    lease = timezone.now() + timedelta(minutes=1)

    first, _ = claims.take(timezone.now(), 2, lease)
    second, _ = claims.take(timezone.now(), 4, lease)

    assert in_issue_order == sorted(keys)
    assert sorted(link.key for link in first) == in_issue_order[:2]  # a chunk: neighbours
    assert sorted(link.key for link in second) == in_issue_order[2:]
    plan = due_plan("LIMIT 2")
    assert "links_due_for_refresh" in plan and "Sort" not in plan, plan


def test_past_refresh_until_no_refresh_then_lapsed_at_expiry(put_object):
    bodies = objects(put_object)
    until = timezone.now() + timedelta(hours=1)
    told = issue_in_process(
        list(bodies), expires_in=600, refresh_until=until, notify_lapsed=True, recipients=[HOOK]
    )
    silent = issue_in_process(list(bodies), expires_in=600, refresh_until=until, recipients=[HOOK])

    with time_machine.travel(until + timedelta(minutes=5), tick=False):
        report = refresher.run_pass()
        assert (report.due, report.refreshed, report.past_until) == (4, 0, 4)
        lapsed = lapsing.lapse_expired(timezone.now())

    assert lapsed.lapsed == 4
    assert set(
        ShareLink.objects.filter(batch__in=[told, silent]).values_list("status", "version")
    ) == {("lapsed", 1)}
    assert event_links(told, "links.refreshed") == [] == event_links(silent, "links.refreshed")
    assert len(event_links(told, "links.lapsed")) == 2
    assert event_links(silent, "links.lapsed") == []


def test_a_link_still_refreshed_does_not_lapse_when_late(put_object):
    batch = issue_in_process(list(objects(put_object, 1)), expires_in=60, refresh=True)
    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
        assert lapsing.lapse_expired(timezone.now()).lapsed == 0
    assert batch.links.get().status == "active"


def test_the_last_signature_ends_at_refresh_until(put_object):
    until = timezone.now() + timedelta(seconds=450)
    batch = issue_in_process(list(objects(put_object, 1)), expires_in=300, refresh_until=until)
    link = batch.links.get()

    with (
        time_machine.travel(link.refresh_at + timedelta(seconds=1), tick=False),
        override_settings(LINKS_REFRESH_CHECK_EXISTS=False),
    ):
        assert refresher.run_pass().refreshed == 1
    link.refresh_from_db()
    assert abs(link.expires_at - until) <= timedelta(seconds=1)
    assert link.refresh_at is None  # final signature: nothing more to refresh


def test_a_deleted_object_stops_being_refreshed(put_object, s3_server, media_bucket):
    bodies = objects(put_object)
    batch = issue_in_process(list(bodies), expires_in=4, refresh=True)
    gone = min(bodies)
    s3_server.client.delete_object(Bucket=media_bucket, Key=gone)
    time.sleep(2.2)

    report = refresher.run_pass()

    assert (report.refreshed, report.gone) == (1, 1)
    assert batch.links.get(key=gone).refresh_at is None
    assert batch.links.get(key=max(bodies)).version == 2


def test_revoked_links_are_never_refreshed_and_recipients_are_told(put_object):
    bodies = objects(put_object)
    batch = issue_in_process(list(bodies), expires_in=4, refresh=True, recipients=[HOOK])
    kept, revoked = batch.links.order_by("key")

    done = revoke(ShareLink.objects.filter(id=revoked.id))
    time.sleep(2.2)
    report = refresher.run_pass()

    assert (done.links, done.deliveries) == (1, 1)
    assert report.refreshed == 1
    revoked.refresh_from_db()
    assert (revoked.status, revoked.version, revoked.refresh_at) == ("revoked", 1, None)
    assert [item["id"] for item in event_links(batch, "links.revoked")] == [revoked.id]
    assert [item["id"] for item in event_links(batch, "links.refreshed")] == [kept.id]
    assert revoke(ShareLink.objects.filter(id=revoked.id)).links == 0  # once


def test_a_pass_that_dies_leaves_its_links_due_when_its_lease_ends(put_object):
    batch = issue_in_process(list(objects(put_object, 2)), expires_in=600, refresh=True)
    later = max(batch.links.values_list("refresh_at", flat=True)) + timedelta(seconds=1)
    lease = later + timedelta(seconds=120)

    taken, _ = claims.take(later, 10, lease)  # then the worker dies mid-pass
    assert len(taken) == 2

    before_its_end = lease - timedelta(seconds=1)
    assert claims.take(before_its_end, 10, before_its_end + timedelta(seconds=120))[0] == []
    again, _ = claims.take(lease, 10, lease + timedelta(seconds=120))
    assert sorted(link.id for link in again) == sorted(link.id for link in taken)
    assert set(batch.links.values_list("version", flat=True)) == {1}


def test_temporary_credentials_make_the_link_due_before_they_expire(put_object, monkeypatch):
    key = next(iter(objects(put_object, 1)))
    creds_expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=20)
    monkeypatch.setattr(factory, "get_signer", lambda: temporary_signer(creds_expiry, "one"))

    batch = issue_in_process([key], expires_in=3600, refresh=True)
    link = batch.links.get()

    assert link.expires_at == creds_expiry  # not the hour asked for
    # 20 min of life: the floor (5 min), spread toward the shortest margin in force
    shortest = timedelta(seconds=current_minimum())
    assert creds_expiry - timedelta(minutes=5) <= link.refresh_at <= creds_expiry - shortest
    assert download(link.url).status_code == 200
    assert not claims.due(timezone.now()).filter(id=link.id).exists()
    assert claims.due(link.refresh_at).filter(id=link.id).exists()

    renewed = creds_expiry + timedelta(hours=6)
    monkeypatch.setattr(factory, "get_signer", lambda: temporary_signer(renewed, "two"))
    moment = (link.refresh_at + timedelta(seconds=1)).replace(microsecond=0)
    with (
        time_machine.travel(moment, tick=False),
        override_settings(LINKS_REFRESH_CHECK_EXISTS=False),
    ):
        assert refresher.run_pass().refreshed == 1
    link.refresh_from_db()
    assert link.expires_at == moment + timedelta(seconds=3600)  # the full TTL again
    assert query(link.url)["X-Amz-Security-Token"] == "session-two"


def temporary_signer(expiry: datetime, name: str):
    def fetch() -> dict[str, str]:  # stands in for STS, the one seam mocked
        return {
            "access_key": "test",
            "secret_key": "test",
            "token": f"session-{name}",
            "expiry_time": expiry.isoformat(),
        }

    session = botocore.session.get_session()
    session._credentials = RefreshableCredentials.create_from_metadata(
        fetch(), refresh_using=fetch, method="sts-assume-role"
    )
    return build_signer(settings_like(), session)


@override_settings(LINKS_PUBLIC_BASE_URL="https://links.example.com")
def test_permalink_redirects_to_a_fresh_url_and_counts_hits(client, put_object):
    bodies = objects(put_object, 1)
    batch = issue_in_process(list(bodies), expires_in=600, refresh=True)
    link = batch.links.get()

    first = client.get(f"/l/{link.token}")
    second = client.get(f"/l/{link.token}")

    assert first.status_code == 302 and first["Cache-Control"] == "no-store"
    assert query(first["Location"])["X-Amz-Expires"] == "300"  # LINKS_PERMALINK_TTL
    assert download(first["Location"]).content == bodies[link.key]
    assert second.status_code == 302
    link.refresh_from_db()
    assert link.hits == 2
    assert event_links(batch, "links.issued") == []  # no recipients: nothing published
    from tasks.events.export import export_rows

    assert next(export_rows(batch))["permalink"] == f"https://links.example.com/l/{link.token}"


def test_unknown_token_is_a_bare_404(client, db):
    response = client.get("/l/not-a-token-" + "x" * 30)
    assert response.status_code == 404
    assert response.content == b"Not found."


def test_permalink_of_a_revoked_link_is_gone(client, put_object):
    batch = issue_in_process(list(objects(put_object, 1)), expires_in=600, refresh=True)
    link = batch.links.get()
    revoke(batch.links.all())

    response = client.get(f"/l/{link.token}")

    assert response.status_code == 410
    link.refresh_from_db()
    assert link.hits == 0


def test_permalink_past_refresh_until_or_expiry_is_gone(client, put_object):
    keys = list(objects(put_object, 1))
    until = timezone.now() + timedelta(hours=1)
    refreshing = issue_in_process(keys, expires_in=600, refresh_until=until).links.get()
    plain = issue_in_process(keys, expires_in=600).links.get()
    assert client.get(f"/l/{plain.token}").status_code == 302

    with time_machine.travel(until + timedelta(seconds=1), tick=False):
        assert client.get(f"/l/{refreshing.token}").status_code == 410
        assert client.get(f"/l/{plain.token}").status_code == 410


@pytest.mark.django_db(transaction=True)
def test_a_take_waits_for_the_take_in_progress_then_skips_what_it_leased(put_object):
    """Takes are one at a time (a few short reads under an advisory lock); once taken, links
    are leased, so no other pass takes them until the lease ends."""
    batch = issue_in_process(list(objects(put_object, 3)), expires_in=600, refresh=True)
    later = max(batch.links.values_list("refresh_at", flat=True)) + timedelta(seconds=1)
    lease = later + timedelta(seconds=120)
    taken_by_other: list[int] = []

    def other_pass(now: datetime) -> None:
        try:
            taken, _ = claims.take(now, 10, now + timedelta(seconds=120))
            taken_by_other.extend(link.id for link in taken)
        finally:
            connection.close()

    with transaction.atomic():
        mine, _ = claims.take(later, 10, lease)
        thread = threading.Thread(target=other_pass, args=(later,))
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # waiting for the first take to commit
    thread.join(30)

    assert len(mine) == 3
    assert taken_by_other == []  # then it found them leased
    other_pass(lease)  # the lease ended (the first pass died): they are due again
    assert sorted(taken_by_other) == sorted(link.id for link in mine)


def test_takes_read_between_the_runs_other_passes_hold(put_object):
    keys = list(objects(put_object, count=8, name="runs"))
    batch = issue_in_process(keys, expires_in=600, refresh=True)
    now = timezone.now()
    batch.links.update(refresh_at=now)
    ids = list(batch.links.order_by("id").values_list("id", flat=True))
    until = now + timedelta(minutes=1)

    first, first_lease = claims.take(now, 2, until)
    second, _ = claims.take(now, 2, until)
    with transaction.atomic():  # the first pass ends: its links were neither saved nor stopped
        assert sorted(claims.release(first_lease)) == ids[:2]
    third, third_lease = claims.take(now, 10, until)

    assert [link.id for link in first] == ids[:2]
    assert [link.id for link in second] == ids[2:4]
    assert [link.id for link in third] == ids[:2] + ids[4:]  # on both sides of the second's
    assert sorted(third_lease.runs.values()) == [ids[:2], ids[4:]]
    assert claims.take(now, 10, until)[0] == []
    with transaction.atomic():
        assert claims.release(first_lease) == []  # its run is not its any more
