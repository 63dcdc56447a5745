"""promtool (Debian's `prometheus` package, `make monitoring-tools`): skipped without it,
except under CI (CI=true), where its absence is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    reason = "promtool is not installed (make monitoring-tools)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"promtool is required in CI: {reason}")
    pytest.skip(reason)


def check_metrics(text: str) -> subprocess.CompletedProcess[str]:
    """`promtool check metrics` on a scrape's text (its lint problems make it fail)."""
    return subprocess.run(
        [promtool(), "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
