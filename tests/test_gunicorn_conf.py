"""gunicorn's access log through the project's config: no permalink token, signature or
credential header reaches it."""

from __future__ import annotations

import datetime
import importlib

import pytest
from gunicorn.config import Config

TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
SIGNATURE = "0123456789abcdef" * 4


class Response:
    status = "302 Found"
    sent = 0
    headers = [("Location", f"http://s3:7070/media/a.pdf?X-Amz-Signature={SIGNATURE}")]


class Request:
    headers = [("AUTHORIZATION", "Token sekrit-api-token"), ("REFERER", f"https://x/l/{TOKEN}")]


def access_line(tmp_path, monkeypatch, log_format: str | None = None) -> str:
    monkeypatch.delenv("PORT", raising=False)
    conf = importlib.reload(importlib.import_module("project.gunicorn_conf"))
    config = Config()
    path = tmp_path / "access.log"
    config.set("accesslog", str(path))
    config.set("access_log_format", log_format or conf.access_log_format)
    logger = conf.RedactingLogger(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/l/{TOKEN}?next=x",
        "PATH_INFO": f"/l/{TOKEN}",
        "QUERY_STRING": "next=x",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
    }
    logger.access(Response(), Request(), environ, datetime.timedelta(milliseconds=12))
    for handler in logger.access_log.handlers:
        handler.flush()
    return path.read_text()


def test_the_access_log_redacts_the_permalink_token(tmp_path, monkeypatch):
    line = access_line(tmp_path, monkeypatch)
    assert '"GET /l/AbCdEf…?next=x HTTP/1.1" 302' in line
    assert TOKEN not in line


def test_headers_in_a_custom_format_are_redacted_or_hidden(tmp_path, monkeypatch):
    line = access_line(
        tmp_path, monkeypatch, "%(U)s %({authorization}i)s %({referer}i)s %({location}o)s"
    )
    assert TOKEN not in line and SIGNATURE not in line
    assert "sekrit-api-token" not in line
    assert "X-Amz-Signature=012345…" in line


def test_workers_are_threaded_for_streaming_exports(monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    conf = importlib.reload(importlib.import_module("project.gunicorn_conf"))
    assert conf.worker_class == "gthread" and conf.threads >= 4
    assert conf.bind == "0.0.0.0:8123" and conf.workers == 3


def test_a_bad_number_names_the_variable(monkeypatch):
    monkeypatch.setenv("GUNICORN_THREADS", "eight")
    with pytest.raises(SystemExit, match="GUNICORN_THREADS"):
        importlib.reload(importlib.import_module("project.gunicorn_conf"))
    monkeypatch.delenv("GUNICORN_THREADS")
    importlib.reload(importlib.import_module("project.gunicorn_conf"))
