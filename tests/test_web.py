"""The staff object page, static URLs, log redaction and the worker test bed (/healthz:
test_health.py)."""

from __future__ import annotations

import gzip
import logging

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.files.base import ContentFile

from common.redact import RedactSecretsFilter, redact
from project.celery import app
from project.storages import StaticStorage
from tests.helpers import download


@pytest.mark.s3
def test_staff_page_renders_a_working_presigned_link(admin_client, put_object):
    key = put_object("reports/staff view.txt", b"for staff")
    staticfiles_storage.save(key, ContentFile(b"static copy"))

    response = admin_client.get("/staff/object-links/", {"key": key})

    assert response.status_code == 200
    media_url = response.context["media_url"]
    assert download(media_url).content == b"for staff"
    assert download(response.context["static_url"]).content == b"static copy"


def test_staff_page_is_staff_only(client):
    response = client.get("/staff/object-links/", {"key": "a"})
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.s3
def test_static_storage_gzips_text_types(media_bucket):
    storage = StaticStorage(gzip=True)
    css = b"body { color: red; }\n" * 200
    name = storage.save("css/site.css", ContentFile(css))

    raw = download(storage.url(name), stream=True).raw
    assert raw.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw.read()) == css
    assert "text/csv" in storage.gzip_content_types


SIGNED = (
    "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Security-Token="
    "FQoGZXIvYXdzEJr&X-Amz-Signature=" + "ab12cd" + "e" * 58
)


def test_redaction_keeps_signatures_and_secrets_out():
    text = redact(f"sent {SIGNED} with whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw sig v1,K5oZfzN95Z9UV")
    assert "e" * 20 not in text
    assert "X-Amz-Signature=ab12cd…" in text
    assert "FQoGZXIvYXdzEJr" not in text
    assert "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in text
    assert "K5oZfzN95Z9UV" not in text


def test_log_records_are_redacted():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "link %s", (SIGNED,), None)
    RedactSecretsFilter().filter(record)
    assert "e" * 20 not in record.getMessage()


@pytest.mark.worker
def test_worker_process_answers(celery_worker):
    replies = app.control.ping(destination=[celery_worker.hostname], timeout=5)
    assert replies and celery_worker.hostname in replies[0]


def test_worker_log_handlers_are_redacted():
    import io

    from project.celery import redact_worker_logs

    stream = io.StringIO()
    logger = logging.getLogger("linkdist-test-worker")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        redact_worker_logs(logger)
        logger.warning("redirect to %s not followed", SIGNED)
    finally:
        logger.removeHandler(handler)
    assert "X-Amz-Signature=ab12cd…" in stream.getvalue()
    assert "e" * 20 not in stream.getvalue()


def test_openapi_schema_is_valid_without_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = out.read_text()
    for path in (
        "/api/batches/",
        "/api/deliveries/{id}/replay/",
        "/api/links/{id}/revoke/",
        "/api/schedules/",
    ):
        assert f"  {path}:" in schema
