"""The Procfile's processes started by a Procfile runner (honcho), as a PaaS would start them.

Each `ProcfileRun` is one `honcho start NAME...` in its own process group, logging to a file;
stopping it stops exactly those processes (honcho ends them all when one of them exits, so the
processes a test stops on their own get a run of their own).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class ProcfileRun:
    def __init__(self, names: list[str], env: dict[str, str], port: int | None = None) -> None:
        self.names = names
        self.env = env
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        prefix = "procfile-" + "-".join(names) + "-"
        self.log_path = Path(tempfile.mkstemp(prefix=prefix, suffix=".log")[1])

    def command(self) -> list[str]:
        port = ["-p", str(self.port)] if self.port else []
        return [
            sys.executable, "-m", "honcho", "start", "--no-colour", "-f", str(ROOT / "Procfile"),
            "-d", str(ROOT), "-e", os.devnull, *port, *self.names,
        ]  # fmt: skip

    def start(self) -> ProcfileRun:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to honcho, which stops its processes; then SIGKILL whatever is left."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        for group in [self.process.pid, *self.child_groups()]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def child_groups(self) -> list[int]:
        """honcho starts each process in a session of its own and logs its pid."""
        return [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", self.log())]


def wait_until(condition, timeout: float, interval: float = 0.5, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
