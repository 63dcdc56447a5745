"""Loopback webhook endpoints for bench_isolation.py, in their own process (asyncio).

    python bench/isolation_sinks.py HEALTHY SLOW [MAX_SECONDS [DRIP_SECONDS]]

Listens on HEALTHY + SLOW ports and prints one JSON line {"healthy": [ports], "slow": [ports]}.
A healthy endpoint answers 204 at once (HTTP/1.1 keep-alive); a slow one reads the request,
then drips its answer one byte every DRIP_SECONDS (default half a second), as a slow or
hostile server does; with DRIP_SECONDS 0 it says nothing (hangs) instead. Serves
until stdin closes or MAX_SECONDS (default 900) pass; then prints {"requests": n, ...}.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys

COUNTS = {"healthy_requests": 0, "slow_requests": 0, "connections": 0}
OK = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
DRIP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def read_request(reader: asyncio.StreamReader) -> bool:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return False
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    try:
        await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return False
    return True


DRIP_SECONDS = [0.5]


def serve(slow: bool):  # type: ignore[no-untyped-def]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        COUNTS["connections"] += 1
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):  # at shutdown
            while await read_request(reader):
                COUNTS["slow_requests" if slow else "healthy_requests"] += 1
                if not slow:
                    writer.write(OK)
                    await writer.drain()
                    continue
                if not DRIP_SECONDS[0]:
                    await asyncio.sleep(3600)
                for byte in DRIP:
                    await asyncio.sleep(DRIP_SECONDS[0])
                    writer.write(bytes([byte]))
                    await writer.drain()
        writer.close()

    return handle


async def main(healthy: int, slow: int, max_seconds: float) -> None:
    servers = {"healthy": [], "slow": []}  # type: dict[str, list[asyncio.Server]]
    for kind, count in (("healthy", healthy), ("slow", slow)):
        for _ in range(count):
            server = await asyncio.start_server(serve(kind == "slow"), "127.0.0.1", 0, backlog=64)
            servers[kind].append(server)
    ports = {k: [s.sockets[0].getsockname()[1] for s in v] for k, v in servers.items()}
    print(json.dumps(ports), flush=True)
    loop = asyncio.get_running_loop()
    closed = loop.run_in_executor(None, sys.stdin.read)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(closed, max_seconds)
    print(json.dumps(COUNTS), flush=True)


if __name__ == "__main__":
    arguments = [float(a) for a in sys.argv[1:]]
    if len(arguments) > 3:
        DRIP_SECONDS[0] = arguments[3]
    asyncio.run(
        main(int(arguments[0]), int(arguments[1]), arguments[2] if len(arguments) > 2 else 900)
    )
