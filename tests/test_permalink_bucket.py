"""A permalink signs in its link's own bucket; once that bucket is not configured, 410."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from media import factory as signer_factory
from tests.batches import unique_prefix
from tests.helpers import download
from tests.refresh_helpers import issue_in_process

pytestmark = [pytest.mark.s3, pytest.mark.django_db]


def test_after_a_bucket_change_an_old_permalink_is_gone_not_another_object(
    client, put_object, s3_server, media_bucket, caplog
):
    key = put_object(f"{unique_prefix('bucket')}report.txt", b"the original")
    link = issue_in_process([key], expires_in=600, refresh=True).links.get()
    assert link.bucket == media_bucket
    other = s3_server.make_bucket("other")
    s3_server.client.put_object(Bucket=other, Key=key, Body=b"another object, same key")

    try:
        with override_settings(AWS_STORAGE_BUCKET_NAME=other), caplog.at_level(logging.WARNING):
            signer_factory.reset()
            response = client.get(f"/l/{link.token}")
    finally:
        signer_factory.reset()

    assert response.status_code == 410
    assert response["Cache-Control"] == "no-store"
    [record] = [r for r in caplog.records if r.name == "tasks.permalinks.view"]
    message = record.getMessage()
    assert f"link {link.id}" in message and repr(media_bucket) in message
    assert "no longer configured" in message and "DJANGO_AWS_STORAGE_BUCKET_NAME" in message
    assert link.token not in message
    link.refresh_from_db()
    assert link.hits == 0


def test_in_its_own_bucket_the_permalink_serves_its_object(client, put_object, media_bucket):
    key = put_object(f"{unique_prefix('bucket')}report.txt", b"the original")
    link = issue_in_process([key], expires_in=600, refresh=True).links.get()

    response = client.get(f"/l/{link.token}")

    assert response.status_code == 302
    assert f"/{media_bucket}/" in response["Location"]
    assert download(response["Location"]).content == b"the original"
