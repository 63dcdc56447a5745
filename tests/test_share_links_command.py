"""The `share_links` command: a batch through the real worker, its export, and clear refusals."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tasks.batches.issuing import create_batch
from tasks.batches.spec import BatchRequest
from tasks.management.clitools import WaitStalled, parse_until, read_keys, wait_for
from tasks.models import Batch
from tests.batches import unique_prefix, upload_many
from tests.helpers import download
from tests.services.celery_processes import ROOT


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("share_links", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.s3
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_prefix_wait_csv_output_writes_links_that_download(
    celery_worker, s3_server, media_bucket, tmp_path
):
    prefix = unique_prefix("cli")
    bodies = {f"{prefix}{number:03d}.txt": f"cli {number}".encode() for number in range(25)}
    upload_many(s3_server.client, media_bucket, bodies)
    output = tmp_path / "links.csv"

    _, err = run(
        "--prefix",
        prefix,
        "--expires-in",
        "90m",
        "--wait",
        "--format",
        "csv",
        "--output",
        str(output),
    )

    rows = list(csv.DictReader(output.open(encoding="utf-8")))
    assert list(rows[0]) == ["key", "url", "expires_at", "permalink", "status"]
    assert sorted(row["key"] for row in rows) == sorted(bodies)
    assert {row["status"] for row in rows} == {"active"}
    for row in rows:
        assert download(row["url"]).content == bodies[row["key"]]
    assert "25 links, 0 keys skipped" in err
    assert "100%" in err  # the progress bar reached the end
    assert Batch.objects.get().expires_in == 5400


@pytest.mark.s3
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_keys_from_a_file_to_json_on_stdout_reports_the_missing_key(
    celery_worker, put_object, tmp_path
):
    prefix = unique_prefix("cli-file")
    present = [put_object(f"{prefix}x.txt", b"x"), put_object(f"{prefix}y z.txt", b"y")]
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(f"{present[0]}\n\n{present[1]}\r\n{present[0]}\n{prefix}gone.txt\n")

    out, _ = run("--keys-from", str(keys_file), "--check-existence", "--wait", "--format", "json")

    rows = json.loads(out)
    assert [(row["key"], row["status"]) for row in rows] == [
        (present[0], "active"),
        (present[1], "active"),
        (f"{prefix}gone.txt", "missing"),
    ]
    assert download(rows[1]["url"]).content == b"y"
    assert rows[2]["url"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--key", "a", "--prefix", "p/"], "not allowed with argument"),
        (["--key", "a", "--output", "x.csv"], "add --wait"),
        (["--key", "a", "--format", "json"], "add --wait"),
        (
            ["--key", "a", "--expires-in", "8d"],
            "--expires-in: expires_in must be between 1 and 604800",
        ),
        (["--key", "a", "--expires-in", "soon"], "is not a duration"),
        (["--key", "a", "--expires-in", "0"], "--expires-in: expires_in must be between 1"),
        (["--key", "k" * 1025], "--key/--keys-from: key #1"),
        (["--prefix", ""], "--prefix: the prefix is empty"),
        (
            ["--key", "a", "--no-refresh", "--until", "2099-01-01"],
            "--until: refresh_until is only used",
        ),
        (["--key", "a", "--until", "someday"], "--until: 'someday' is not a date"),
        (["--key", "a", "--format", "xml", "--wait"], "invalid choice: 'xml'"),
    ],
)
@pytest.mark.django_db
def test_bad_flags_are_refused_and_nothing_is_created(args, message):
    with pytest.raises(CommandError, match=None) as raised:
        run(*args)

    assert message in str(raised.value)
    assert Batch.objects.count() == 0


@pytest.mark.django_db
def test_an_empty_keys_file_is_refused(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")

    with pytest.raises(CommandError, match="no keys given"):
        run("--keys-from", str(empty))
    assert Batch.objects.count() == 0


@pytest.mark.django_db
def test_wait_without_a_worker_says_so_and_creates_nothing():
    name = connection.settings_dict["NAME"]
    database_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
    prefix = f"nobody-listens-{uuid.uuid4().hex[:8]}-"
    queue = f"{prefix}bulk"
    env = {
        **os.environ,
        "TEST_DATABASE_URL": database_url,
        "CELERY_QUEUE_PREFIX": prefix,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "share_links", "--key", "a.txt", "--wait"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert f"no Celery worker consumes the queue {queue!r}" in result.stderr
    assert "nothing was created" in result.stderr
    assert Batch.objects.count() == 0


@pytest.mark.django_db
def test_waiting_on_a_batch_nobody_signs_stops_with_a_reason():
    # In this test's transaction the batch is never committed: no worker sees it.
    batch = create_batch(BatchRequest(keys=["a", "b"], expires_in=60)).batch

    with pytest.raises(WaitStalled, match=r"no progress for 0.5 s: batch .* is signing \(0 of 2"):
        wait_for(batch, stall_timeout=0.5, stream=io.StringIO(), poll=0.1)


def test_keys_file_lines_and_until_dates():
    assert read_keys(["a\n", "\n", " spaced key \r\n", "   \n", "last"]) == [
        "a",
        " spaced key ",
        "last",
    ]
    assert parse_until("2026-12-31") == datetime(2027, 1, 1, tzinfo=UTC)
    assert parse_until("2026-12-31T08:00:00+01:00") == datetime(2026, 12, 31, 7, tzinfo=UTC)
    assert parse_until("2026-12-31 08:00") == datetime(2026, 12, 31, 8, tzinfo=UTC)
