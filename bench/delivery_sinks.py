"""Loopback sinks for bench_delivery.py, in their own process: HTTP receivers and an SMTP server.

    python bench/delivery_sinks.py HTTP_COUNT [MAX_SECONDS]

Prints one JSON line {"http": [ports], "smtp": port}, then serves until stdin closes or
MAX_SECONDS (default 600) pass, whichever comes first. Receivers answer 204 in one write
(HTTP/1.1 keep-alive, TCP_NODELAY), and count requests and connections; the counts are
printed as a last JSON line on exit.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.services.smtp import SmtpServer

COUNTS = {"requests": 0, "connections": 0}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with LOCK:
            COUNTS["connections"] += 1

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with LOCK:
            COUNTS["requests"] += 1
        close = self.headers.get("Connection", "").lower() == "close"
        reply = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n"
        reply += b"Connection: close\r\n\r\n" if close else b"\r\n"
        self.wfile.write(reply)
        self.close_connection = close

    def log_message(self, format: str, *args: object) -> None:
        return


def main(http_count: int, max_seconds: float) -> None:
    servers = []
    for _ in range(http_count):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    smtp = SmtpServer()
    smtp.start()
    ports = [server.server_address[1] for server in servers]
    print(json.dumps({"http": ports, "smtp": smtp.port}), flush=True)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait(max_seconds)
    for server in servers:
        server.shutdown()
    counts = {**COUNTS, "smtp_messages": len(smtp.messages), "smtp_connections": smtp.connections}
    with contextlib.suppress(BrokenPipeError):
        print(json.dumps(counts), flush=True)
    smtp.stop()
    time.sleep(0.1)


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 600)
