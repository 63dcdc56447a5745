"""A real gunicorn, started with the project's config, writes no permalink token to its access
log, however the request spells the path (`/%6C/<token>`, `/l/%4C%62…`: both answer 302)."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.refresh_helpers import issue_in_process
from tests.services.ports import free_port
from tests.services.procfile_stack import ROOT

pytestmark = [pytest.mark.django_db(transaction=True)]


def start_gunicorn(port: int, log: Path, database_url: str) -> subprocess.Popen[bytes]:
    import os

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "TEST_DATABASE_URL": database_url,
        "PORT": str(port),
        "GUNICORN_HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
    }
    command = [sys.executable, "-m", "gunicorn", "project.wsgi:application"]
    with open(log, "ab") as out:
        return subprocess.Popen(
            [*command, "-c", "python:project.gunicorn_conf"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def raw_get(port: int, path: str) -> int:
    """GET the path exactly as spelled (requests would decode %6C to l before sending)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def wait_up(url: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            requests.get(url, timeout=2)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer at {url}")


def test_the_gunicorn_access_log_never_shows_a_permalink_token(test_database_url, tmp_path):
    token = issue_in_process(["reports/a.pdf"], expires_in=600).links.get().token
    port, log = free_port(), tmp_path / "gunicorn.log"
    server = start_gunicorn(port, log, test_database_url)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(f"{base}/l/not-a-token-at-all")
        encoded = "".join(f"%{ord(char):02X}" for char in token)
        answers = [raw_get(port, path) for path in (f"/%6C/{token}", f"/l/{encoded}")]
        time.sleep(0.5)  # the access log line is written after the response
    finally:
        server.terminate()
        server.wait(timeout=30)

    text = log.read_text(errors="replace")
    assert answers == [302, 302]
    assert text.count(" 302 ") == 2, text
    assert "/%6C/" in text and "/l/%" in text  # the paths as the client spelled them
    assert token[6:] not in text
    assert "token-at-all" not in text  # Django's request log is redacted too
    assert encoded[18:] not in text  # past the 6 characters kept
