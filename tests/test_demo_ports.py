"""`make demo` runs with its usual ports (45998, 45999) held by other sockets: it picks free
ones and says so; a port chosen by DEMO_S3_PORT that is taken is one clear line, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
USUAL = (45998, 45999)


def make_demo(**env: str) -> subprocess.CompletedProcess[str]:
    """The Makefile's `demo` target itself (its install step taken as done)."""
    venv = Path(sys.executable).parent.parent
    return subprocess.run(
        ["make", "-o", f"{venv}/.demo-installed", "demo", f"PY={sys.executable}", f"VENV={venv}"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def usual_ports_held() -> Iterator[None]:
    """One listener and one client connection's local end, as a leftover connection holds it."""
    with ExitStack() as stack:
        listener = stack.enter_context(socket.socket())
        with suppress(OSError):  # held by someone else already: taken all the same
            listener.bind(("127.0.0.1", USUAL[1]))
            listener.listen()
        server = stack.enter_context(socket.socket())
        server.bind(("127.0.0.1", 0))
        server.listen()
        client = stack.enter_context(socket.socket())
        with suppress(OSError):
            client.bind(("127.0.0.1", USUAL[0]))
            client.connect(server.getsockname())
        yield


def test_make_demo_passes_with_its_usual_ports_taken(usual_ports_held):
    done = make_demo()

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "port 45999 is taken on 127.0.0.1: the demo uses" in done.stderr
    assert "port 45998 is taken on 127.0.0.1: the demo uses" in done.stderr
    assert "S3 emulator at http://127.0.0.1:45999" not in done.stdout
    assert "verified by the receiver with its secret" in done.stdout
    assert "Traceback" not in done.stderr


def test_a_chosen_port_that_is_taken_is_one_clear_line(usual_ports_held):
    done = make_demo(DEMO_S3_PORT=str(USUAL[1]))

    assert done.returncode != 0
    assert "DEMO_S3_PORT=45999: that port is taken on 127.0.0.1" in done.stderr
    assert "Traceback" not in done.stderr
