"""Production-like smoke test: the Procfile's processes, started by a Procfile runner (honcho)
exactly as the Procfile writes them, with DEBUG off, behind gunicorn with the real config,
against PostgreSQL, Redis and LocalStack's S3.

An operator's first day: release (migrate), collect static files, make a user and an API token
with the documented commands, create a batch over HTTP with a webhook recipient, receive and
verify the webhook, follow the permalink, read /healthz and /metrics; then beat stops and
/healthz turns 503 naming it within HEALTH_MAX_BEAT_AGE.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook

from tests.procfile import procfile
from tests.services.ports import free_port
from tests.services.procfile_stack import ROOT, ProcfileRun, wait_until

pytestmark = [pytest.mark.s3, pytest.mark.worker]

BEAT_MAX_AGE = 6
HEALTH_CACHE = 1


def server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/linkdist")


@pytest.fixture
def smoke_database() -> Iterator[str]:
    """A database of its own, empty: the release step must migrate it."""
    parts = urlsplit(server_url())
    name = f"{parts.path.lstrip('/')}_smoke_{uuid.uuid4().hex[:6]}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Stack:
    env: dict[str, str]
    port: int
    metrics_token: str
    hook: Any  # the webhook receiver (its port is the one webhooks may use)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@pytest.fixture
def stack_env(smoke_database, s3_server, tmp_path, receiver) -> Stack:
    hook = receiver()
    hook_port = urlsplit(hook.url).port
    port = free_port()
    run = uuid.uuid4().hex[:8]
    token = secrets.token_urlsafe(24)
    bucket = s3_server.make_bucket("smoke")
    venv_bin = os.path.dirname(sys.executable)
    env = {
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DJANGO_ENV_FILE": os.devnull,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DATABASE_URL": smoke_database,
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
        "CELERY_QUEUE_PREFIX": f"smoke-{run}-",
        "CELERY_TASK_DEFAULT_QUEUE": f"smoke-{run}",
        "DJANGO_AWS_ACCESS_KEY_ID": s3_server.access_key,
        "DJANGO_AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
        "DJANGO_AWS_STORAGE_BUCKET_NAME": bucket,
        "DJANGO_AWS_S3_REGION_NAME": s3_server.region,
        "DJANGO_AWS_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "DJANGO_AWS_S3_ADDRESSING_STYLE": "path",
        "DJANGO_AWS_S3_USE_SSL": "false",
        "DJANGO_AWS_S3_SECURE_URLS": "false",
        "EMAIL_URL": "consolemail://",
        "WEBHOOK_ALLOW_HTTP": "true",
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WEBHOOK_ALLOWED_PORTS": str(hook_port),
        "LINKS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "METRICS_TOKEN": token,
        "METRICS_ALLOWED_NETWORKS": "192.0.2.1/32",  # not loopback: the token is needed
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "HEALTH_HEARTBEAT_INTERVAL": "1",
        "HEALTH_MAX_BEAT_AGE": str(BEAT_MAX_AGE),
        "HEALTH_CACHE_SECONDS": str(HEALTH_CACHE),
        "GUNICORN_HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "WORKER_CONCURRENCY": "2",
        "UPKEEP_CONCURRENCY": "1",
        "BULK_CONCURRENCY": "1",
        "DELIVERIES_CONCURRENCY": "4",
        "DELIVERIES_DB_CONNECTIONS": "4",
        "QUARANTINE_CONCURRENCY": "4",
        "QUARANTINE_DB_CONNECTIONS": "2",
    }
    s3_server.client.put_object(Bucket=bucket, Key="smoke/report.csv", Body=b"a,b\n1,2\n")
    return Stack(env, port, token, hook)


@pytest.fixture
def running(stack_env) -> Iterator[tuple[Stack, ProcfileRun, ProcfileRun]]:
    release = ProcfileRun(["release"], stack_env.env).start()
    assert release.wait(timeout=180) == 0, release.log()
    stack_env.manage("collectstatic", "--noinput")  # the image's build step
    serving = [name for name in procfile() if name not in {"release", "beat"}]
    assert serving[0] == "web"  # honcho gives the first process the port
    web_and_workers = ProcfileRun(serving, stack_env.env, port=stack_env.port).start()
    beat = ProcfileRun(["beat"], stack_env.env).start()
    try:
        yield stack_env, web_and_workers, beat
    finally:
        beat.stop()
        web_and_workers.stop()
        shutil.rmtree(stack_env.env["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def healthz(stack: Stack) -> requests.Response:
    return requests.get(f"{stack.url}/healthz", timeout=30)


def healthy(stack: Stack) -> bool:
    try:
        return healthz(stack).status_code == 200
    except requests.ConnectionError:
        return False


def api_token(stack: Stack, username: str) -> str:
    """A superuser (who may share the whole bucket) and a token, by the documented commands."""
    stack.env["DJANGO_SUPERUSER_PASSWORD"] = secrets.token_urlsafe(16)
    stack.manage("createsuperuser", "--noinput", "--username", username, "--email", "o@x.example")
    return stack.manage("api_token", username).strip()


def test_the_procfile_stack_serves_a_batch_end_to_end(running):
    stack, web_and_workers, beat = running
    wait_until(lambda: healthy(stack), timeout=120, what=f"/healthz 200\n{web_and_workers.log()}")
    token = api_token(stack, "operator")
    hook = stack.hook
    api = {"Authorization": f"Token {token}"}

    created = requests.post(
        f"{stack.url}/api/batches/",
        json={
            "keys": ["smoke/report.csv"],
            "expires_in": 3600,
            "recipients": [{"webhook": hook.url}],
        },
        headers=api,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    secret = created.json()["recipients"][0]["secret"]

    received = hook.wait_for(1, timeout=90)[0]
    payload = Webhook(secret).verify(received.body, received.headers)
    assert payload["type"] == "links.issued"
    link = payload["data"]["links"][0]
    assert requests.get(link["url"], timeout=30).content == b"a,b\n1,2\n"
    followed = requests.get(link["permalink"], timeout=30)
    assert followed.history[0].status_code == 302
    assert followed.content == b"a,b\n1,2\n"

    assert requests.get(f"{stack.url}/static/admin/css/base.css", timeout=30).status_code == 200
    health = healthz(stack)
    assert health.status_code == 200, health.text
    assert requests.get(f"{stack.url}/metrics", timeout=30).status_code == 403
    metrics = requests.get(
        f"{stack.url}/metrics",
        headers={"Authorization": f"Bearer {stack.metrics_token}"},
        timeout=30,
    ).text
    assert 'linkdist_links{status="active"} 1.0' in metrics
    assert "linkdist_links_signed_total 1.0" in metrics  # counted by the bulk worker
    assert re.search(  # counted in the deliveries worker, read by web: multi-process metrics
        r'linkdist_delivery_attempts_total\{event="links.issued",outcome="delivered",'
        r'transport="webhook"\} 1.0',
        metrics,
    ), metrics
    assert "linkdist_refresh_lag_seconds 0.0" in metrics

    log = web_and_workers.log()
    permalink_token = link["permalink"].rsplit("/", 1)[1]
    assert f"/l/{permalink_token[:6]}…" in log and permalink_token not in log

    stopped = time.monotonic()
    beat.stop()
    wait_until(
        lambda: healthz(stack).status_code == 503,
        timeout=BEAT_MAX_AGE + HEALTH_CACHE + 20,
        what="/healthz 503 after beat stopped",
    )
    took = time.monotonic() - stopped
    body = healthz(stack).json()
    assert "beat" in body["failing"], body
    assert took <= BEAT_MAX_AGE + HEALTH_CACHE + 5, took  # + stopping beat, polling
