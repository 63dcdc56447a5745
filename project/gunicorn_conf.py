"""gunicorn's configuration: `gunicorn project.wsgi:application -c python:project.gunicorn_conf`.

- Threads (gthread): a streaming CSV export of a million rows holds one thread, not a whole
  worker, and the worker keeps telling the arbiter it is alive while the stream runs, so
  `timeout` bounds a stuck worker, not a long response.
- The access log goes through the project's redaction: permalink tokens, signatures and
  webhook secrets never reach it, and credentials headers are never logged.
- Metric files (PROMETHEUS_MULTIPROC_DIR): the master clears dead processes' files when it
  starts, and a worker that exits is marked dead (prometheus_client's multiprocess recipe).
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.glogging import Logger

from common import metricsfiles
from common.redact import redact

HIDDEN_HEADERS = frozenset({"{authorization}i", "{cookie}i", "{set-cookie}o", "{x-metrics-token}i"})


def _number(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise SystemExit(f"{name} must be a whole number, got {raw!r}")
    return int(raw)


class RedactingLogger(Logger):
    """gunicorn's logger, with every access-log atom passed through the project's redaction."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if name in HIDDEN_HEADERS:
                atoms[name] = "…"
            elif isinstance(value, str):
                atoms[name] = redact(value)
        return atoms


bind = f"{os.environ.get('GUNICORN_HOST', '0.0.0.0')}:{_number('PORT', 8000)}"  # noqa: S104
workers = _number("WEB_CONCURRENCY", 2)
worker_class = "gthread"
threads = _number("GUNICORN_THREADS", 8)
timeout = _number("GUNICORN_TIMEOUT", 30)
graceful_timeout = _number("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _number("GUNICORN_KEEPALIVE", 5)
max_requests = _number("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
# The proxies whose X-Forwarded-* gunicorn believes: those the project trusts (TRUSTED_PROXIES,
# default none), unless named apart; gunicorn's own default would trust this host's.
forwarded_allow_ips = os.environ.get(
    "GUNICORN_FORWARDED_ALLOW_IPS", os.environ.get("TRUSTED_PROXIES", "")
)
accesslog = "-"
errorlog = "-"
logger_class = RedactingLogger
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'


def on_starting(server: Any) -> None:
    """The master, before any worker: clear the metric files of this host's dead processes."""
    metricsfiles.clear_dead()


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: prometheus_client's bookkeeping for its live gauges (its docs' recipe)."""
    if metricsfiles.directory():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(metricsfiles.identifier(worker.pid))
