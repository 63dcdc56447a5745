"""LocalStack's S3 with signature and expiry checks on, started by the tests when not running."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"


def endpoint() -> str:
    return os.environ.get("DJANGO_AWS_S3_ENDPOINT_URL", DEFAULT_ENDPOINT).rstrip("/")


def s3_available(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_localstack/health", timeout=2) as response:
            health = json.load(response)
    except (OSError, ValueError):
        return False
    return health.get("services", {}).get("s3") in {"available", "running"}


def localstack_python() -> Path | None:
    configured = os.environ.get("LOCALSTACK_PYTHON")
    candidate = Path(configured) if configured else ROOT / ".venv-localstack" / "bin" / "python"
    return candidate if candidate.exists() else None


class LocalStack:
    """Reuses a running LocalStack, or starts one and stops it at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    def ensure_running(self, timeout: float = 120) -> None:
        if s3_available(self.url):
            return
        python = localstack_python()
        if python is None:
            raise RuntimeError(
                "LocalStack is not running and .venv-localstack is missing: run `make localstack`"
            )
        self._start(python)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if s3_available(self.url):
                return
            if self.process and self.process.poll() is not None:
                break
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"LocalStack did not start; see {self.log_path}")

    def _start(self, python: Path) -> None:
        host_port = self.url.split("://", 1)[1]
        volume = tempfile.mkdtemp(prefix="localstack-")
        env = {
            **os.environ,
            "SERVICES": "s3",
            "S3_SKIP_SIGNATURE_VALIDATION": "0",
            "GATEWAY_LISTEN": host_port,
            "DISABLE_EVENTS": "1",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "LOCALSTACK_VOLUME_DIR": volume,
        }
        self.log_path = Path(volume) / "localstack.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(python), "-m", "localstack.runtime.main"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
