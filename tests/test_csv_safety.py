"""CSV that a spreadsheet opens as text: a key like `=HYPERLINK(...)` never becomes a formula.

OWASP's advice: a cell starting with =, +, -, @, tab or carriage return gets a leading `'`,
and cells are quoted. Checked on the API export, the `share_links` export, and the emailed
manifest read back from S3.
"""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from django.core.management import call_command

from tasks.events.export import csv_pieces
from tasks.events.handover import manifest_writer
from tasks.models import Batch
from tests.auth import api_client_for
from tests.batches import wait_for_batch
from tests.helpers import download

# (no "//" in a key: an empty path segment is refused by the key scopes)
DANGEROUS = ['=HYPERLINK("evil.example/x","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"]


def formula_keys() -> list[str]:
    """Keys that start like formulas, unique to this test run."""
    run = uuid.uuid4().hex[:8]
    return [f"{start} {run}.txt" for start in DANGEROUS]


def read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def row(key: str, **fields: str | None) -> dict[str, str | None]:
    base = {"key": key, "url": "https://x/a", "expires_at": None, "permalink": None}
    return {**base, "status": "active", **fields}


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_starts_like_a_formula_gets_a_quote_before_it(start):
    text = "".join(csv_pieces([row(f"{start}1+1", status=f"{start}x")]))

    [got] = read(text)
    assert got["key"] == f"'{start}1+1"
    assert got["status"] == f"'{start}x"
    assert f'"\'{start}1+1"' in text  # quoted, as OWASP recommends


def test_other_cells_are_left_as_they_are_and_every_cell_is_quoted():
    keys = ["report-1.csv", "a,=1+1", "x=1", "'quoted", " =padded", ""]
    text = "".join(csv_pieces([row(key) for key in keys]))

    assert [got["key"] for got in read(text)] == keys
    assert text.splitlines()[0] == '"key","url","expires_at","permalink","status"'
    assert text.splitlines()[1] == '"report-1.csv","https://x/a","","","active"'


@pytest.mark.s3
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_api_export_neutralises_formula_keys(django_user_model, celery_worker, put_object):
    keys = formula_keys()
    for key in keys:
        put_object(key, key.encode())
    alice = api_client_for(django_user_model.objects.create_user("alice"))
    created = alice.post("/api/batches/", {"keys": keys, "expires_in": 600}, format="json")
    assert created.status_code == 201, created.content
    wait_for_batch(created.json()["id"])

    export = alice.get(f"/api/batches/{created.json()['id']}/links/", {"format": "csv"})

    rows = read(b"".join(export.streaming_content).decode())
    assert sorted(r["key"] for r in rows) == sorted(f"'{key}" for key in keys)
    for got in rows:
        assert download(got["url"]).content == got["key"][1:].encode()


@pytest.mark.s3
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_share_links_export_neutralises_formula_keys(celery_worker, put_object, tmp_path):
    keys = formula_keys()
    for key in keys:
        put_object(key, b"x")
    output = tmp_path / "links.csv"

    call_command(
        "share_links",
        *[f"--key={key}" for key in keys],
        "--wait",
        f"--output={output}",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )

    rows = read(output.read_text(encoding="utf-8"))
    assert sorted(r["key"] for r in rows) == sorted(f"'{key}" for key in keys)


@pytest.mark.s3
@pytest.mark.django_db
def test_the_emailed_manifest_read_back_from_s3_neutralises_formula_keys(media_bucket):
    batch = Batch.objects.create(source="keys", bucket=media_bucket, expires_in=300)
    items = [
        {**row(key), "id": n, "expires_at": "2026-01-01T00:00:00Z", "filename": None}
        for n, key in enumerate(formula_keys(), start=1)
    ]

    url = manifest_writer(batch)(items)

    response = download(url)
    assert response.status_code == 200
    rows = read(response.content.decode())
    assert [r["key"] for r in rows] == [f"'{item['key']}" for item in items]
    assert response.content.startswith(b'"key","url"')
