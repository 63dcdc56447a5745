"""SigV4 everywhere, and a custom domain in front of the private bucket is never unsigned."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import override_settings

from media import factory as signer_factory
from media.factory import build_signer
from signing.target import SigningConfigError, media_target
from tests.helpers import download, query, settings_like, tamper_signature

ROOT = Path(__file__).resolve().parents[1]
REGIONS = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-northeast-1",
    "ap-southeast-2",
    "sa-east-1",
    "ca-central-1",
    "eu-south-2",
]


@pytest.mark.parametrize("style", ["auto", "virtual", "path"])
@pytest.mark.parametrize("region", REGIONS)
def test_every_region_is_signed_with_sigv4(region, style):
    signer = build_signer(
        settings_like(
            AWS_S3_ENDPOINT_URL=None,
            AWS_S3_REGION_NAME=region,
            AWS_S3_ADDRESSING_STYLE=style,
            AWS_STORAGE_BUCKET_NAME="private-media",
        )
    )

    url = signer.sign("reports/x.pdf", 900).url
    params = query(url)

    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert params["X-Amz-Credential"].split("/")[2] == region
    assert "AWSAccessKeyId" not in params and "Signature" not in params
    assert urlsplit(url).scheme == "https"


def endpoint_port() -> int:
    return urlsplit(settings.AWS_S3_ENDPOINT_URL).port or 80


def s3_host_settings(bucket: str) -> dict[str, object]:
    return {
        "AWS_MEDIA_CUSTOM_DOMAIN": f"{bucket}.s3.localhost.localstack.cloud:{endpoint_port()}",
        "AWS_MEDIA_CUSTOM_DOMAIN_SIGNING": "s3-host",
        "AWS_S3_SECURE_URLS": False,
    }


def via_loopback(url: str):
    """Open a URL for a custom host by connecting to LocalStack with that Host header."""
    parts = urlsplit(url)
    return download(
        f"http://127.0.0.1:{endpoint_port()}{parts.path}?{parts.query}",
        headers={"Host": parts.netloc},
    )


@pytest.mark.s3
def test_custom_host_served_by_s3_gets_signed_links(put_object, media_bucket):
    key = put_object("docs/custom host.txt", b"via the custom host")
    signer = build_signer(settings_like(**s3_host_settings(media_bucket)))

    url = signer.sign(key, 600).url

    assert urlsplit(url).netloc == f"{media_bucket}.s3.localhost.localstack.cloud:{endpoint_port()}"
    assert query(url)["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert via_loopback(url).content == b"via the custom host"
    assert via_loopback(tamper_signature(url)).status_code == 403


@pytest.mark.s3
def test_media_storage_url_behind_custom_domain_is_signed(put_object, media_bucket):
    key = put_object("docs/storage.txt", b"storage url")
    signer_factory.reset()
    try:
        with override_settings(**s3_host_settings(media_bucket)):
            url = default_storage.url(key)
    finally:
        signer_factory.reset()

    assert "X-Amz-Signature=" in url
    assert via_loopback(url).content == b"storage url"


def cloudfront_key() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key, pem


def cloudfront_b64decode(text: str) -> bytes:
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def test_cloudfront_domain_gets_cloudfront_signed_links():
    private_key, pem = cloudfront_key()
    signer = build_signer(
        settings_like(
            AWS_MEDIA_CUSTOM_DOMAIN="media.example.com",
            AWS_MEDIA_CUSTOM_DOMAIN_SIGNING=None,
            AWS_CLOUDFRONT_KEY_ID="K2JCJMDEHXQW5F",
            AWS_CLOUDFRONT_KEY=pem.replace("\n", "\\n"),
            AWS_S3_SECURE_URLS=True,
        )
    )

    signed = signer.sign("reports/year end.pdf", 3600, filename="year end.pdf")
    params = query(signed.url)
    resource = signed.url.split("&Expires=")[0]
    policy = json.dumps(
        {
            "Statement": [
                {
                    "Resource": resource,
                    "Condition": {"DateLessThan": {"AWS:EpochTime": int(params["Expires"])}},
                }
            ]
        },
        separators=(",", ":"),
    )

    assert signed.url.startswith("https://media.example.com/reports/year%20end.pdf?")
    assert params["Key-Pair-Id"] == "K2JCJMDEHXQW5F"
    assert int(params["Expires"]) == int(signed.expires_at.timestamp())
    assert params["response-content-disposition"] == 'attachment; filename="year end.pdf"'
    private_key.public_key().verify(
        cloudfront_b64decode(params["Signature"]),
        policy.encode(),
        padding.PKCS1v15(),
        hashes.SHA1(),
    )
    with pytest.raises(InvalidSignature):
        private_key.public_key().verify(
            cloudfront_b64decode(params["Signature"]),
            policy.replace("year", "yeer").encode(),
            padding.PKCS1v15(),
            hashes.SHA1(),
        )


def test_custom_domain_without_a_way_to_sign_is_refused():
    with pytest.raises(SigningConfigError, match="nothing can sign"):
        media_target(
            settings_like(
                AWS_MEDIA_CUSTOM_DOMAIN="media.example.com",
                AWS_MEDIA_CUSTOM_DOMAIN_SIGNING=None,
                AWS_CLOUDFRONT_KEY_ID=None,
                AWS_CLOUDFRONT_KEY=None,
            )
        )


def test_startup_fails_for_an_unsigned_custom_domain(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_DEBUG": "true",
        "DJANGO_ENV_FILE": str(tmp_path / "none"),
        "DJANGO_AWS_STORAGE_BUCKET_NAME": "media",
        "DJANGO_AWS_MEDIA_CUSTOM_DOMAIN": "media.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "nothing can sign links" in result.stderr
