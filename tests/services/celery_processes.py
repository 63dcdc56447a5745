"""Real Celery processes for the tests: the worker pools as the Procfile starts them, and beat.

`PoolProcess("deliveries")` runs the Procfile's `deliveries:` line, with its ${VAR:-default}
references filled from this run's environment (so CELERY_QUEUE_PREFIX keeps the queues of
this run its own). `WorkerProcess` is a plain worker on one named queue. All of them run
with the test settings against the test database, log to a file the tests can read, and
are started in their own process group so that a kill reaches pool children.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class CeleryProcess:
    kind = "celery"
    ready_marker = ""

    def __init__(
        self, database_url: str, extra_env: dict[str, str] | None = None, root: Path = ROOT
    ) -> None:
        self.database_url = database_url
        self.extra_env = dict(extra_env or {})
        self.root = root  # the checkout whose code the process runs
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.mkstemp(prefix=f"celery-{self.kind}-", suffix=".log")[1])

    def arguments(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "TEST_DATABASE_URL": self.database_url,
            **self.extra_env,
        }

    def command(self, env: dict[str, str]) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "project", *self.arguments()]

    def start(self, timeout: float = 60) -> CeleryProcess:
        env = self.environment()
        command = self.command(env)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
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


PROCFILE = ROOT / "Procfile"
_REFERENCE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")
_ASSIGNMENT = re.compile(r"^(\w+)=(.*)$")


def procfile_line(name: str) -> str:
    for line in PROCFILE.read_text().splitlines():
        process, _, command = line.partition(":")
        if process.strip() == name:
            return command.strip()
    raise KeyError(f"no {name!r} process in {PROCFILE}")


def substitute(text: str, env: dict[str, str]) -> str:
    """The shell's ${VAR:-default} and $VAR, as a Procfile runner expands them."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        return env.get(name) or (match.group(2) or "")

    return _REFERENCE.sub(value, text)


def procfile_command(name: str, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The Procfile line `name` as argv (celery run by this interpreter) and its VAR=value
    prefixes, expanded with `env`."""
    words = shlex.split(substitute(procfile_line(name), env))
    assigned: dict[str, str] = {}
    while words and (match := _ASSIGNMENT.match(words[0])):
        assigned[match.group(1)] = match.group(2)
        words.pop(0)
    start = 3 if words[:2] == ["nice", "-n"] else 0  # `nice -n N celery ...`: the pool's priority
    if words[start] in {"celery", "python"}:
        ours = [sys.executable, "-m", "celery"] if words[start] == "celery" else [sys.executable]
        words[start : start + 1] = ours
    return words, assigned


class PoolProcess(CeleryProcess):
    """One worker pool (upkeep, deliveries, quarantine or bulk), or beat, started by its
    Procfile line."""

    def __init__(
        self,
        database_url: str,
        name: str,
        extra_env: dict[str, str] | None = None,
        root: Path = ROOT,
    ) -> None:
        self.kind = name
        self.ready_marker = "beat: Starting" if name == "beat" else " ready."
        super().__init__(database_url, extra_env, root)
        self.name = name

    def command(self, env: dict[str, str]) -> list[str]:
        argv, assigned = procfile_command(self.name, env)
        env.update(assigned)
        return argv

    @property
    def hostname(self) -> str:
        argv, _ = procfile_command(self.name, self.environment())
        return argv[argv.index("-n", argv.index("worker")) + 1].replace("%h", socket.gethostname())


class WorkerPools:
    """The Procfile's worker pools, started and stopped together (each its own process group)."""

    NAMES = ("upkeep", "deliveries", "quarantine", "bulk")

    def __init__(
        self,
        database_url: str,
        extra_env: dict[str, str] | None = None,
        names: tuple[str, ...] = NAMES,
        root: Path = ROOT,
    ) -> None:
        """`root`: the checkout whose code the pools run (started by this one's Procfile
        lines): another version's, for a benchmark's before/after in the same minutes."""
        self.pools = {name: PoolProcess(database_url, name, extra_env, root) for name in names}

    def __getitem__(self, name: str) -> PoolProcess:
        return self.pools[name]

    @property
    def hostname(self) -> str:
        return next(iter(self.pools.values())).hostname

    def start(self, timeout: float = 60) -> WorkerPools:
        for pool in self.pools.values():
            pool.start(timeout)
        return self

    def log(self) -> str:
        return "\n".join(pool.log() for pool in self.pools.values())

    def kill(self) -> None:
        for pool in self.pools.values():
            pool.kill()

    def stop(self) -> None:
        for pool in self.pools.values():
            pool.stop()
