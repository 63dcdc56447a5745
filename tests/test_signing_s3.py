"""The signing entry point against the signature-checking S3 server (LocalStack)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import botocore.session
import pytest
import time_machine
from botocore.credentials import RefreshableCredentials
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from media.factory import build_signer
from media.signing import SigningError, sign
from tests.helpers import download, query, settings_like, tamper_signature

pytestmark = pytest.mark.s3


def test_link_from_media_storage_downloads_exact_bytes(media_bucket):
    body = bytes(range(256)) * 40
    name = default_storage.save("reports/q1 summary.bin", ContentFile(body))

    response = download(default_storage.url(name))

    assert response.status_code == 200
    assert response.content == body


def test_media_storage_never_overwrites(media_bucket):
    first = default_storage.save("dupes/same.txt", ContentFile(b"one"))
    second = default_storage.save("dupes/same.txt", ContentFile(b"two"))

    assert first != second
    assert download(sign(first, 60).url).content == b"one"


def test_one_changed_signature_character_is_refused(put_object):
    key = put_object("private/a.txt", b"secret bytes")
    url = sign(key, 600).url

    assert download(url).status_code == 200
    response = download(tamper_signature(url))
    assert response.status_code == 403
    assert b"SignatureDoesNotMatch" in response.content


def test_link_signed_with_wrong_secret_is_refused(put_object):
    key = put_object("private/b.txt", b"bytes")
    session = botocore.session.get_session()
    session.set_credentials("test", "not-the-secret")
    url = build_signer(settings_like(), session).sign(key, 600).url

    assert download(url).status_code == 403


def test_link_is_refused_after_it_lapses(put_object):
    key = put_object("private/short.txt", b"short-lived")
    url = sign(key, 2).url
    assert download(url).status_code == 200

    time.sleep(3.2)

    response = download(url)
    assert response.status_code == 403
    assert b"expired" in response.content.lower()


@pytest.mark.parametrize("expires_in", [604801, 0, -5, 3.5, True, "3600"])
def test_bad_expiry_is_an_error_before_any_link(expires_in):
    with pytest.raises(SigningError, match="expires_in"):
        sign("anything.txt", expires_in)


def test_seven_days_is_accepted(put_object):
    key = put_object("private/week.txt", b"week")
    signed = sign(key, 604800)
    assert query(signed.url)["X-Amz-Expires"] == "604800"
    assert download(signed.url).content == b"week"


def test_filename_with_spaces_and_non_ascii_comes_back(put_object):
    key = put_object("private/raw-object", b"%PDF-1.4 pretend")
    url = sign(key, 600, filename="Été report 2026 – final.pdf", content_type="application/pdf").url

    response = download(url)

    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="Ete report 2026 _ final.pdf"')
    assert "filename*=UTF-8''%C3%89t%C3%A9%20report%202026%20%E2%80%93%20final.pdf" in disposition
    assert response.headers["Content-Type"] == "application/pdf"


def test_temporary_credentials_bound_the_expiry(put_object):
    key = put_object("private/temp.txt", b"temporary")
    creds_expiry = datetime.now(UTC) + timedelta(minutes=20)

    def fetch() -> dict[str, str]:  # stands in for STS, the one seam mocked
        return {
            "access_key": "test",
            "secret_key": "test",
            "token": "session-token-1",
            "expiry_time": creds_expiry.isoformat(),
        }

    session = botocore.session.get_session()
    session._credentials = RefreshableCredentials.create_from_metadata(
        fetch(), refresh_using=fetch, method="sts-assume-role"
    )
    signer = build_signer(settings_like(), session)

    long_link = signer.sign(key, 3600)
    short_link = signer.sign(key, 60)

    assert long_link.expires_at <= creds_expiry
    assert long_link.expires_at == creds_expiry
    assert short_link.expires_at < creds_expiry
    assert query(long_link.url)["X-Amz-Security-Token"] == "session-token-1"
    assert download(long_link.url).content == b"temporary"


@pytest.mark.parametrize("bucket", ["plain-bucket", "express--use1-az4--x-s3"])
def test_entry_point_gives_botocore_identical_urls(bucket):
    """The fast presigner behind sign(), or botocore where it does not apply: same bytes."""
    from media.clients import boto_session, s3_client
    from signing.target import media_target

    values = settings_like(
        AWS_STORAGE_BUCKET_NAME=bucket,
        AWS_S3_ENDPOINT_URL=None,
        AWS_S3_ADDRESSING_STYLE="virtual",
        AWS_S3_REGION_NAME="eu-west-1",
    )
    signer = build_signer(values)
    client = s3_client(boto_session(values), media_target(values))
    with time_machine.travel(datetime(2026, 11, 28, 12, 0, 5, tzinfo=UTC), tick=False):
        ours = signer.sign("dir/naïve file.txt", 900, filename="r.txt").url
        theirs = client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket,
                "Key": "dir/naïve file.txt",
                "ResponseContentDisposition": 'attachment; filename="r.txt"',
            },
            ExpiresIn=900,
        )
    assert ours == theirs
