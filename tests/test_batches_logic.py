"""Batch logic without a worker: input rules, chunk re-runs, the sweeper, exports, admin pages."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone

from common.retrying import backoff_delay, describe, is_transient
from notifications.models import Recipient
from tasks.batches import chunks, linkstore, progress
from tasks.batches.issuing import create_batch, expand_prefix
from tasks.batches.linkstore import NewLink
from tasks.batches.progress import failure_summary
from tasks.batches.spec import BatchInputError, BatchRequest, validate
from tasks.batches.sweeper import resume_stalled
from tasks.events.export import csv_pieces, json_pieces
from tasks.events.handover import hand_over, manifest_writer
from tasks.models import Batch, BatchChunk, ShareLink, new_token
from tasks.permalinks.serving import permalink_maker
from tests.batches import unique_prefix
from tests.helpers import download

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def checked(**fields) -> BatchRequest:
    return validate(BatchRequest(**{"expires_in": 60, **fields}), max_size=10, now=NOW)


def test_keys_are_made_distinct_in_first_seen_order():
    assert checked(keys=["b", "a", "b", "c", "a"]).keys == ["b", "a", "c"]


def test_a_key_of_exactly_1024_bytes_is_accepted_and_1025_refused():
    assert checked(keys=["é" * 512]).keys == ["é" * 512]
    with pytest.raises(BatchInputError, match=r"key #2 .*at most 1024 bytes") as raised:
        checked(keys=["fine", "é" * 512 + "x"])
    assert raised.value.field == "keys"


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("a" * 1025, "at most 1024 bytes"),
        ("", "empty"),
        ("x\x00y", "NUL"),
        (7, "7"),
    ],
)
def test_one_bad_key_among_plain_ones_is_refused_by_its_number(bad, why):
    """Plain ASCII batches are checked whole; one key that is not sends them key by key."""
    plain = [f"reports/{n}.pdf" for n in range(5)]
    assert checked(keys=plain).keys == plain
    with pytest.raises(BatchInputError, match=rf"key #4 .*{why}"):
        checked(keys=[*plain[:3], bad, *plain[3:]])


def test_refresh_is_on_when_a_limit_is_given():
    assert checked(keys=["a"], refresh_until=NOW + timedelta(days=1)).refresh is True
    assert checked(keys=["a"]).refresh is False
    with pytest.raises(BatchInputError, match="needs a time zone"):
        checked(keys=["a"], refresh_until=datetime(2099, 1, 1))


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OperationalError("canceling statement due to lock timeout"), True),
        (EndpointConnectionError(endpoint_url="http://s3"), True),
        (ClientError({"Error": {"Code": "SlowDown"}}, "HeadObject"), True),
        (
            ClientError(
                {"Error": {"Code": "InternalError"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
                "HeadObject",
            ),
            True,
        ),
        (
            ClientError(
                {"Error": {"Code": "403"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                "HeadObject",
            ),
            False,
        ),
        (ValueError("a bug"), False),
    ],
)
def test_which_failures_are_retried(error, transient):
    assert is_transient(error) is transient


def test_retries_back_off_to_a_ceiling():
    delays = [backoff_delay(attempt) for attempt in range(12)]
    assert 1 <= delays[0] <= 2
    assert 8 <= delays[3] <= 16
    assert all(delay <= 300 for delay in delays)


def test_reasons_never_carry_a_signature():
    error = RuntimeError("GET https://b/k?X-Amz-Signature=" + "ab" * 32 + " failed")
    assert "ab" * 10 not in describe(error)


def test_failure_summaries_say_how_much_failed():
    assert failure_summary(["boom", "boom"], 0, 10) == "all 2 chunks failed: boom"
    assert failure_summary(["x", "y"], 3, 7) == "2 of 5 chunks failed (7 keys got no link): x; y"


def test_exports_as_csv_and_json():
    rows = [
        {
            "key": "a,b.txt",
            "url": "https://x/a",
            "expires_at": "2026-01-01T00:00:00+00:00",
            "permalink": None,
            "status": "active",
            "id": 7,
        },
        {"key": "gone", "url": None, "expires_at": None, "permalink": None, "status": "missing"},
    ]
    text = "".join(csv_pieces(rows))
    assert next(csv.reader(io.StringIO(text))) == [
        "key",
        "url",
        "expires_at",
        "permalink",
        "status",
    ]
    assert list(csv.DictReader(io.StringIO(text)))[1] == {
        "key": "gone",
        "url": "",
        "expires_at": "",
        "permalink": "",
        "status": "missing",
    }
    assert json.loads("".join(json_pieces(rows))) == rows
    assert json.loads("".join(json_pieces([]))) == []


urlpatterns: list[object] = []  # a URLconf with no route named "permalink"


def test_permalinks_need_the_route_and_a_public_address():
    with override_settings(LINKS_PUBLIC_BASE_URL="https://links.example.com/"):
        assert permalink_maker()("tok") == "https://links.example.com/l/tok"
        with override_settings(ROOT_URLCONF=__name__):
            assert permalink_maker()("tok") is None
    with override_settings(LINKS_PUBLIC_BASE_URL=None):
        assert permalink_maker()("tok") is None


@pytest.mark.django_db
@override_settings(LINKS_CHUNK_SIZE=3)
def test_keys_are_stored_in_chunks_before_any_task_runs():
    batch = create_batch(BatchRequest(keys=[f"k{n}" for n in range(8)], expires_in=60)).batch

    stored = list(batch.chunks.order_by("index").values_list("keys", flat=True))
    assert stored == [["k0", "k1", "k2"], ["k3", "k4", "k5"], ["k6", "k7"]]
    assert (batch.status, batch.total) == ("signing", 8)


@pytest.mark.django_db
def test_two_runs_of_one_chunk_leave_one_link_per_key_counted_once():
    batch = create_batch(BatchRequest(keys=["p/1", "p/2", "p/1", "p/3"], expires_in=60)).batch
    chunk = BatchChunk.objects.select_related("batch").get(batch=batch)

    # Both runs signed before either recorded: a redelivered message, a retry after a crash.
    first, second = chunks.prepare(chunk), chunks.prepare(chunk)
    assert chunks.record(first) is True
    assert chunks.record(second) is False

    batch.refresh_from_db()
    assert (batch.status, batch.signed) == ("done", 3)
    links = ShareLink.objects.filter(batch=batch).order_by("key")
    assert [link.token for link in links] == [link.token for link in first.links]
    chunks.sign_chunk(chunk.id)  # a late third delivery: nothing to do
    assert ShareLink.objects.filter(batch=batch).count() == 3


@pytest.mark.django_db
def test_a_run_that_finds_its_chunk_given_up_writes_no_link():
    batch = create_batch(BatchRequest(keys=["f/1", "f/2"], expires_in=60)).batch
    chunk = BatchChunk.objects.select_related("batch").get(batch=batch)
    signed = chunks.prepare(chunk)  # a slow run, while another one gave the chunk up

    progress.chunk_failed(chunk.id, "gave up")

    assert chunks.record(signed) is False
    assert not ShareLink.objects.filter(batch=batch).exists()
    batch.refresh_from_db()
    assert (batch.status, batch.signed, batch.failed) == ("failed", 0, 2)


@pytest.mark.django_db
@override_settings(LINKS_CHUNK_SIZE=1)
def test_the_sweeper_requeues_stale_work_once(django_capture_on_commit_callbacks):
    batch = create_batch(BatchRequest(keys=["s/1", "s/2", "s/3"], expires_in=60)).batch
    done = batch.chunks.get(index=0)
    chunks.sign_chunk(done.id)
    hour_ago = timezone.now() - timedelta(hours=1)
    BatchChunk.objects.update(enqueued_at=hour_ago)

    with django_capture_on_commit_callbacks() as queued:
        first = resume_stalled(timezone.now(), older_than=timedelta(minutes=15))
    again = resume_stalled(timezone.now(), older_than=timedelta(minutes=15))

    assert (first.chunks, first.expansions, first.hand_overs) == (2, 0, 0)
    assert len(queued) == 1
    assert again.chunks == 0


@pytest.mark.django_db
@override_settings(LINKS_CHUNK_SIZE=1, LINKS_SWEEP_LIMIT=2)
def test_one_sweep_takes_at_most_links_sweep_limit_chunks_the_next_takes_the_rest():
    create_batch(BatchRequest(keys=["t/1", "t/2", "t/3"], expires_in=60))
    BatchChunk.objects.update(enqueued_at=timezone.now() - timedelta(hours=1))

    first = resume_stalled(timezone.now(), older_than=timedelta(minutes=15))
    second = resume_stalled(timezone.now(), older_than=timedelta(minutes=15))

    assert (first.chunks, second.chunks) == (2, 1)  # the limit, then the one left behind
    later = resume_stalled(timezone.now() + timedelta(hours=1), older_than=timedelta(minutes=15))
    assert later.chunks == 2  # all three stale again: the limit again


def test_the_resume_beat_entry_runs_every_sweep_interval_and_expires_then(settings):
    from project.settings import CELERY_BEAT_SCHEDULE, LINKS_SWEEP_INTERVAL

    entry = CELERY_BEAT_SCHEDULE["resume-stalled-batches"]
    assert entry["schedule"] == float(LINKS_SWEEP_INTERVAL) == float(settings.LINKS_SWEEP_INTERVAL)
    assert entry["options"]["expires"] == entry["schedule"]


@pytest.mark.django_db
def test_admin_pages_search_filter_and_mask_signatures(admin_client):
    batch = create_batch(
        BatchRequest(keys=["admin/report.pdf", "admin/other.pdf"], expires_in=60)
    ).batch
    chunks.sign_chunk(batch.chunks.get().id)
    link = ShareLink.objects.get(key="admin/report.pdf")
    signature = link.url.split("X-Amz-Signature=")[1]

    listing = admin_client.get(
        "/admin/tasks/sharelink/", {"q": "admin/rep", "status__exact": "active"}
    )
    detail = admin_client.get(f"/admin/tasks/sharelink/{link.id}/change/")
    batches = admin_client.get("/admin/tasks/batch/", {"status__exact": "done"})

    assert listing.status_code == detail.status_code == batches.status_code == 200
    assert "admin/report.pdf" in listing.content.decode()
    assert "admin/other.pdf" not in listing.content.decode()
    for page in (listing, detail):
        assert signature not in page.content.decode()
        assert f"X-Amz-Signature={signature[:6]}…" in page.content.decode()
    assert link.token not in detail.content.decode()
    assert str(batch.id) in batches.content.decode()
    page = admin_client.get(f"/admin/tasks/batch/{batch.id}/change/").content.decode()
    assert "1 done" in page
    assert f"/admin/tasks/sharelink/?batch__id__exact={batch.id}" in page
    of_batch = admin_client.get("/admin/tasks/sharelink/", {"batch__id__exact": str(batch.id)})
    assert of_batch.status_code == 200
    assert "admin/other.pdf" in of_batch.content.decode()
    skipped = admin_client.get("/admin/tasks/skippedkey/", {"batch__id__exact": str(batch.id)})
    assert skipped.status_code == 200
    expired = admin_client.get(
        "/admin/tasks/sharelink/", {"expires_at__lt": "2000-01-01T00:00:00+00:00"}
    )
    assert "admin/report.pdf" not in expired.content.decode()


@pytest.mark.s3
@pytest.mark.django_db
def test_a_manifest_is_a_working_link_to_a_csv_of_the_items(media_bucket):
    batch = Batch.objects.create(source="keys", bucket=media_bucket, expires_in=300)
    items = [
        {
            "id": 1,
            "key": "a.txt",
            "url": "https://x/a",
            "expires_at": "2026-01-01T00:00:00",
            "permalink": None,
            "filename": None,
        }
    ]

    url = manifest_writer(batch)(items)

    response = download(url)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows == [
        {
            "key": "a.txt",
            "url": "https://x/a",
            "expires_at": "2026-01-01T00:00:00",
            "permalink": "",
            "status": "active",
        }
    ]
    assert f"links-{batch.id}.csv" in response.headers["Content-Disposition"]


@pytest.mark.django_db
def test_copy_and_bulk_create_store_the_same_link():
    until = timezone.now() + timedelta(days=3)
    copied, created = (
        Batch.objects.create(
            source="keys", bucket="b", expires_in=90, refresh=True, refresh_until=until
        )
        for _ in range(2)
    )
    now = timezone.now()
    link = NewLink("dir/a b.txt", "https://x/a?sig", now, now + timedelta(seconds=90), "a b.txt")

    linkstore.copy_links(copied, [link, link])  # the same key twice: stored once
    ShareLink.objects.bulk_create([linkstore.as_model(created, replace(link, token="other"))])

    fields = [
        "bucket",
        "key",
        "filename",
        "url",
        "issued_at",
        "expires_at",
        "ttl",
        "version",
        "status",
        "refresh_until",
    ]
    rows = [
        ShareLink.objects.filter(batch=batch).values(*fields).get() for batch in (copied, created)
    ]
    assert rows[0] == rows[1]
    assert rows[0]["refresh_until"] == until and rows[0]["status"] == "active"
    assert ShareLink.objects.get(batch=copied).token == link.token


def test_tokens_made_in_bulk_have_the_form_of_one_and_do_not_repeat():
    tokens = linkstore.new_tokens(1000)
    assert len(set(tokens)) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", token) for token in tokens)
    assert len(new_token()) == 32


@pytest.mark.django_db
def test_the_binary_copy_stores_any_text_and_a_link_already_there_once():
    batch = Batch.objects.create(source="keys", bucket="b", expires_in=90)
    now = timezone.now()
    keys = ["tab\there", "new\nline", "back\\slash", "é/ü 漢字 \\N.pdf", "plain"]
    links = [
        NewLink(
            key,
            f"https://x/{number}?X-Amz-Signature=ab",
            now,
            now + timedelta(seconds=90),
            None if number % 2 else f"f{number}.pdf",
            refresh_at=None if number % 2 else now + timedelta(seconds=60),
        )
        for number, key in enumerate(keys)
    ]

    linkstore.insert_links(batch, links[:2])
    linkstore.insert_links(batch, links)  # two are there: the COPY conflicts, the rest is added

    stored = {link.key: link for link in ShareLink.objects.filter(batch=batch)}
    assert [stored[key].token for key in keys] == [link.token for link in links]
    assert [(stored[k].url, stored[k].filename, stored[k].refresh_at) for k in keys] == [
        (link.url, link.filename, link.refresh_at) for link in links
    ]
    assert {(link.version, link.status, link.ttl, link.hits) for link in stored.values()} == {
        (1, "active", 90, 0)
    }


@pytest.mark.django_db
def test_a_signed_batch_with_recipients_is_handed_to_the_outbox(
    monkeypatch, django_capture_on_commit_callbacks
):
    batch = create_batch(BatchRequest(keys=["h/b.txt", "h/a.txt"], expires_in=120)).batch
    recipient = Recipient.objects.create(kind="email", email="finance@example.com")
    batch.recipients.add(recipient)
    with django_capture_on_commit_callbacks() as queued:
        chunks.sign_chunk(batch.chunks.get().id)
    batch.refresh_from_db()
    assert batch.status == "delivering"
    assert len(queued) == 1  # the hand-over task, sent once the chunk committed
    published = []
    monkeypatch.setattr(
        "notifications.outbox.publish", lambda *args, **kwargs: published.append((args, kwargs))
    )

    hand_over(batch.id)
    hand_over(batch.id)  # a repeated message: nothing more

    batch.refresh_from_db()
    assert batch.status == "done"
    [(args, kwargs)] = published
    assert args == ("links.issued",)
    assert kwargs["subject"] == str(batch.id)
    assert kwargs["recipients"] == [recipient]
    links = {link.key: link for link in ShareLink.objects.filter(batch=batch)}
    assert kwargs["items"] == [
        {
            "id": links[key].id,
            "key": key,
            "url": links[key].url,
            "expires_at": links[key].expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "permalink": None,
            "filename": None,
        }
        for key in ("h/a.txt", "h/b.txt")
    ]
    assert callable(kwargs["manifest"])


@pytest.mark.s3
@pytest.mark.django_db
@override_settings(LINKS_CHUNK_SIZE=2)
def test_a_prefix_is_expanded_into_chunks_or_refused_over_the_limit(put_object):
    prefix = unique_prefix("expand")
    for name in ("1", "2", "3"):
        put_object(prefix + name, b"x")
    batch = create_batch(BatchRequest(prefix=prefix, expires_in=60)).batch
    assert (batch.status, batch.total) == ("pending", 0)

    with override_settings(LINKS_MAX_BATCH_SIZE=2):
        expand_prefix(batch.id)
    batch.refresh_from_db()
    assert batch.status == "failed"
    assert "holds more than 2 objects (LINKS_MAX_BATCH_SIZE)" in batch.error
    assert not batch.chunks.exists()

    Batch.objects.filter(id=batch.id).update(status="pending", error="")
    expand_prefix(batch.id)
    batch.refresh_from_db()
    assert (batch.status, batch.total) == ("signing", 3)
    assert list(batch.chunks.order_by("index").values_list("keys", flat=True)) == [
        [prefix + "1", prefix + "2"],
        [prefix + "3"],
    ]


@pytest.mark.s3
@pytest.mark.django_db
@override_settings(LINKS_REFRESH_RATE=1, LINKS_REFRESH_PARALLEL=1, LINKS_REFRESH_INTERVAL=1)
def test_a_refreshing_prefix_larger_than_the_pools_keep_alive_fails_naming_the_settings(
    put_object,
):
    prefix = unique_prefix("kept")
    for name in ("1", "2", "3"):
        put_object(prefix + name, b"x")
    batch = create_batch(BatchRequest(prefix=prefix, expires_in=60, refresh=True)).batch

    expand_prefix(batch.id)  # 1 link/s keeps 1 link of 60 s alive with these settings
    batch.refresh_from_db()
    assert batch.status == "failed"
    assert "cannot keep 3 links of 60 s alive" in batch.error
    assert "LINKS_REFRESH_PARALLEL" in batch.error and "no link was made" in batch.error
    assert not batch.chunks.exists()

    Batch.objects.filter(id=batch.id).update(status="pending", error="")
    with override_settings(LINKS_REFRESH_RATE=1000):
        expand_prefix(batch.id)
    batch.refresh_from_db()
    assert (batch.status, batch.total) == ("signing", 3)
