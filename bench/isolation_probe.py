"""Where a bench_isolation run spends the pools' time: figures that survive a noisy machine.

A Probe samples, every half second while a run goes on:
- the CPU time (user + system) of the `deliveries` and `quarantine` pool processes, from
  /proc/<pid>/stat (each pool is one process of threads);
- the runs in flight to the slow endpoints: those on their first attempt (claims of
  deliveries with `attempt_count` 1: in the cold run, sent from `deliveries`, the pool of
  endpoints not known to fail), and those on a later one (retries: from `quarantine`);
- the connections open to the bench database (pg_stat_activity), but the probe's own.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


@dataclass
class Profile:
    cpu: dict[str, float] = field(default_factory=dict)  # pool -> CPU seconds during the run
    first_in_flight: list[int] = field(default_factory=list)  # samples
    retries_in_flight: list[int] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)

    def line(self) -> str:
        def peak_mean(samples: list[int]) -> str:
            if not samples:
                return "-"
            return f"{max(samples)}/{sum(samples) / len(samples):.0f}"

        cpu = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.cpu.items())
        return (
            f"CPU {cpu}; slow first attempts in flight (peak/mean) "
            f"{peak_mean(self.first_in_flight)}, slow retries {peak_mean(self.retries_in_flight)}"
            f", DB connections {peak_mean(self.connections)}"
        )


class Probe:
    def __init__(self, pids: dict[str, int], slow_ids: list[int], every: float = 0.5) -> None:
        self.pids, self.slow_ids, self.every = pids, slow_ids, every
        self.profile = Profile()
        self._start = {name: cpu_seconds(pid) for name, pid in pids.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.profile.cpu = {
            name: cpu_seconds(pid) - self._start[name] for name, pid in self.pids.items()
        }

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(self.every):
                self._sample(connection)
        finally:
            connection.close()

    def _sample(self, connection: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(DISTINCT claim_token) FILTER (WHERE attempt_count = 1), "
                "count(DISTINCT claim_token) FILTER (WHERE attempt_count > 1) "
                "FROM notifications_delivery "
                "WHERE status = 'sending' AND recipient_id = ANY(%s)",
                [self.slow_ids],
            )
            first, retries = cursor.fetchone()
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            (connections,) = cursor.fetchone()
        self.profile.first_in_flight.append(int(first))
        self.profile.retries_in_flight.append(int(retries))
        self.profile.connections.append(int(connections))
