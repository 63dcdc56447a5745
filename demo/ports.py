"""The demo's loopback ports: its usual ones when free, other free ones when not.

`DEMO_S3_PORT` and `DEMO_SMTP_PORT` choose them; a chosen port that is taken stops the demo
with one line saying so (no traceback). Unset, the usual port (45999, 45998) is used when it
is free and another free port when something holds it (a leftover connection in Linux's
ephemeral range does).
"""

from __future__ import annotations

import os
import socket
import sys

HOST = "127.0.0.1"


def is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:port now (no SO_REUSEADDR: strict)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def any_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def demo_port(variable: str, usual: int) -> int:
    """The port to use for one of the demo's servers; SystemExit naming the variable."""
    chosen = os.environ.get(variable, "").strip()
    if not chosen:
        if is_free(usual):
            return usual
        port = any_free_port()
        print(
            f"port {usual} is taken on {HOST}: the demo uses {port} ({variable})", file=sys.stderr
        )
        return port
    if not chosen.isdigit() or not 1 <= int(chosen) <= 65535:
        raise SystemExit(f"{variable} must be a port number (1-65535), got {chosen!r}")
    if not is_free(int(chosen)):
        raise SystemExit(
            f"{variable}={chosen}: that port is taken on {HOST}; choose another one, or unset "
            f"{variable} to let the demo pick a free port"
        )
    return int(chosen)
