"""Real Celery processes for the tests: a prefork worker on this run's queue, and beat.

Both run with the test settings against the test database, log to a file the tests can
read, and are started in their own process group so that a kill reaches pool children.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class CeleryProcess:
    kind = "celery"
    ready_marker = ""

    def __init__(self, database_url: str, extra_env: dict[str, str] | None = None) -> None:
        self.database_url = database_url
        self.extra_env = dict(extra_env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.mkstemp(prefix=f"celery-{self.kind}-", suffix=".log")[1])

    def arguments(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 60) -> CeleryProcess:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "TEST_DATABASE_URL": self.database_url,
            **self.extra_env,
        }
        command = [sys.executable, "-m", "celery", "-A", "project", *self.arguments()]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited; see {self.log_path}:\n{self.log()}")
            if self.ready_marker in self.log():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.kind} did not become ready; see {self.log_path}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole process group: the main process and its pool children."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None


class WorkerProcess(CeleryProcess):
    kind = "worker"
    ready_marker = " ready."

    def __init__(
        self,
        database_url: str,
        queue: str,
        concurrency: int = 2,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(database_url, extra_env)
        self.queue = queue
        self.concurrency = concurrency
        self.hostname = f"{queue}-{os.getpid()}-{time.monotonic_ns()}@localhost"

    def arguments(self) -> list[str]:
        return [
            "worker", "-Q", self.queue, "-n", self.hostname, "-c", str(self.concurrency),
            "-P", "prefork", "--loglevel=INFO", "--without-gossip", "--without-mingle",
        ]  # fmt: skip


class BeatProcess(CeleryProcess):
    """Beat with django-celery-beat's DatabaseScheduler (the project's), or another one."""

    kind = "beat"
    ready_marker = "beat: Starting"

    def __init__(
        self,
        database_url: str,
        extra_env: dict[str, str] | None = None,
        scheduler: str = "django_celery_beat.schedulers:DatabaseScheduler",
    ) -> None:
        super().__init__(database_url, extra_env)
        self.scheduler = scheduler
        self.schedule_file = self.log_path.with_suffix(".schedule")

    def arguments(self) -> list[str]:
        return [
            "beat", "--scheduler", self.scheduler, "--max-interval", "1",
            "--schedule", str(self.schedule_file), "--loglevel=INFO",
        ]  # fmt: skip
