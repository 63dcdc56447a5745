"""Real services for the tests: LocalStack's S3, a Celery worker process, SMTP, HTTP receivers.

PostgreSQL and Redis are expected on 127.0.0.1 (`make services` starts them when down).
LocalStack is started when not running; where it cannot start, S3 tests are skipped
with the reason, except under CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from django.conf import settings
from django.db import OperationalError

from demo.receiver import Receiver, Reply
from tests.services.celery_processes import WorkerPools
from tests.services.localstack import LocalStack, endpoint
from tests.services.smtp import SmtpServer

pytest_plugins = ["tests.delivery_fixtures"]


@dataclass
class S3Server:
    endpoint_url: str
    region: str
    access_key: str
    secret_key: str
    client: Any

    def make_bucket(self, prefix: str = "bucket") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=name)
        return name

    def ensure_bucket(self, name: str) -> str:
        existing = {b["Name"] for b in self.client.list_buckets().get("Buckets", [])}
        if name not in existing:
            self.client.create_bucket(Bucket=name)
        return name


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"the signature-checking S3 server is required in CI: {reason}")
    pytest.skip(f"SKIPPED LOUDLY: no signature-checking S3 server: {reason}")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = LocalStack(endpoint())
    try:
        server.ensure_running()
    except RuntimeError as error:
        _unavailable(str(error))
    client = boto3.client(
        "s3",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    yield S3Server(server.url, "us-east-1", "test", "test", client)
    server.stop()


@pytest.fixture(scope="session")
def media_bucket(s3_server: S3Server) -> str:
    """The settings' media and static buckets, created on the S3 server."""
    s3_server.ensure_bucket(settings.AWS_STATIC_BUCKET_NAME)
    return s3_server.ensure_bucket(settings.AWS_STORAGE_BUCKET_NAME)


@pytest.fixture
def put_object(s3_server: S3Server, media_bucket: str) -> Callable[..., str]:
    def put(key: str, body: bytes, **extra: Any) -> str:
        s3_server.client.put_object(Bucket=media_bucket, Key=key, Body=body, **extra)
        return key

    return put


DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE for a deadlock it broke


@pytest.fixture(scope="session", autouse=True)
def _flush_waits_out_busy_workers() -> Iterator[None]:
    """The worker pools live across tests, and one may be recording a send while a
    transactional test's teardown empties the tables. TRUNCATE locks table after table, so
    PostgreSQL can find a deadlock and fail the flush: then the flush runs again."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    flush = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: DatabaseOperations, sql_list: list[str]) -> None:
        for attempt in range(1, 6):
            try:
                return flush(self, sql_list)
            except OperationalError as error:
                if getattr(error.__cause__, "sqlstate", None) != DEADLOCK or attempt == 5:
                    raise
                time.sleep(0.2 * attempt)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "execute_sql_flush", execute_sql_flush)
        yield


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup: None, django_db_blocker: Any, media_bucket: str
) -> Iterator[WorkerPools]:
    """The worker pools (upkeep, deliveries, quarantine, bulk) started as the Procfile starts
    them, on this run's queues (CELERY_QUEUE_PREFIX), against the test database."""
    from django.db import connection

    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
    database_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
    worker = WorkerPools(database_url)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def _smtp_session() -> Iterator[SmtpServer]:
    server = SmtpServer(port=settings.EMAIL_PORT)  # the port EMAIL_URL names (tests/settings.py)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(_smtp_session: SmtpServer) -> SmtpServer:
    _smtp_session.clear()
    return _smtp_session


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    """Factory: receiver(script=[Reply(500), Reply(200)]) -> a started Receiver."""
    started: list[Receiver] = []

    def make(script: list[Reply] | None = None, default: Reply | None = None) -> Receiver:
        instance = Receiver(script, default).start()
        started.append(instance)
        return instance

    yield make
    for instance in started:
        instance.stop()
