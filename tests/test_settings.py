"""Settings fail loudly: each bad value names its variable; production needs its secrets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from common.envparse import duration_seconds, parse_bool, parse_duration, parse_int

ROOT = Path(__file__).resolve().parents[1]
TEST_FERNET_KEY = "dGVzdHMtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE="


def run_check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "DJANGO_ENV_FILE": str(tmp_path / "absent.env")}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={**base, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_secret_key(tmp_path):
    result = run_check(tmp_path, DJANGO_DEBUG="false")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_s3_configured_without_media_bucket_is_refused(tmp_path):
    result = run_check(
        tmp_path,
        DJANGO_SECRET_KEY="x",
        DJANGO_AWS_ACCESS_KEY_ID="AKIA",
        DJANGO_AWS_SECRET_ACCESS_KEY="s",
    )
    assert result.returncode != 0
    assert "DJANGO_AWS_STORAGE_BUCKET_NAME is required" in result.stderr


def test_unknown_custom_domain_signing_is_refused_by_a_system_check(tmp_path):
    result = run_check(
        tmp_path,
        DJANGO_SECRET_KEY="x",
        DJANGO_AWS_STORAGE_BUCKET_NAME="media",
        DJANGO_AWS_MEDIA_CUSTOM_DOMAIN="media.example.com",
        DJANGO_AWS_MEDIA_CUSTOM_DOMAIN_SIGNING="signed-somehow",
    )
    assert result.returncode != 0
    assert "linkdist.E001" in result.stderr
    assert (
        "DJANGO_AWS_MEDIA_CUSTOM_DOMAIN_SIGNING must be 'cloudfront' or 's3-host'" in result.stderr
    )


def test_custom_domain_with_nothing_to_sign_it_is_refused(tmp_path):
    result = run_check(
        tmp_path,
        DJANGO_SECRET_KEY="x",
        DJANGO_AWS_STORAGE_BUCKET_NAME="media",
        DJANGO_AWS_MEDIA_CUSTOM_DOMAIN="media.example.com",
    )
    assert result.returncode != 0
    assert "DJANGO_AWS_MEDIA_CUSTOM_DOMAIN_SIGNING=s3-host" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DJANGO_AWS_S3_USE_SSL", "maybe", "DJANGO_AWS_S3_USE_SSL must be a boolean"),
        ("DJANGO_DEBUG", "yes please", "DJANGO_DEBUG must be a boolean"),
        (
            "DJANGO_AWS_QUERYSTRING_EXPIRE",
            "600x",
            "DJANGO_AWS_QUERYSTRING_EXPIRE: '600x' is not a duration",
        ),
        ("LINKS_DEFAULT_EXPIRES_IN", "soon", "LINKS_DEFAULT_EXPIRES_IN: 'soon' is not a duration"),
        (
            "WEBHOOK_ALLOWED_NETWORKS",
            "10.0.0.0/8,10.1",
            "WEBHOOK_ALLOWED_NETWORKS: '10.1' is not a",
        ),
        ("LINKS_CHUNK_SIZE", "0", "LINKS_CHUNK_SIZE must be at least 1"),
        ("WEBHOOK_ALLOWED_PORTS", "443,22x", "WEBHOOK_ALLOWED_PORTS: '22x' is not a port"),
        ("ADMIN_LOGIN_RATE", "10", "ADMIN_LOGIN_RATE must be a number of requests per period"),
        ("TRUSTED_PROXY_COUNT", "-1", "TRUSTED_PROXY_COUNT must be at least 0"),
    ],
)
def test_bad_values_name_their_variable(tmp_path, name, value, message):
    result = run_check(tmp_path, DJANGO_SECRET_KEY="x", **{name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_env_file_is_read_and_environment_wins(tmp_path):
    env_file = tmp_path / "test.env"
    env_file.write_text(
        "DJANGO_SECRET_KEY=from-file\nDJANGO_AWS_S3_USE_SSL=nonsense\n"
        f"FIELD_ENCRYPTION_KEYS={TEST_FERNET_KEY}\n"
    )
    result = run_check(tmp_path, DJANGO_ENV_FILE=str(env_file))
    assert "DJANGO_AWS_S3_USE_SSL must be a boolean" in result.stderr  # the file was read

    result = run_check(tmp_path, DJANGO_ENV_FILE=str(env_file), DJANGO_AWS_S3_USE_SSL="true")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3600", 3600),
        ("90m", 5400),
        ("2h", 7200),
        ("7d", 604800),
        ("1w", 604800),
        (" 5 s ", 5),
    ],
)
def test_durations(text, seconds):
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "1.5h", "-3", "10 minutes", "h", "3600s5"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="not a duration"):
        duration_seconds(text)


def test_strict_parsers_name_the_variable():
    with pytest.raises(ImproperlyConfigured, match="FLAG must be a boolean"):
        parse_bool("FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="SIZE must be a whole number"):
        parse_int("SIZE", "1e3")
    with pytest.raises(ImproperlyConfigured, match="SIZE must be at least 1"):
        parse_int("SIZE", "0", minimum=1)
    with pytest.raises(ImproperlyConfigured, match="TTL:"):
        parse_duration("TTL", "forever")
    assert parse_bool("FLAG", "Off") is False
    assert parse_int("SIZE", "600") == 600
