"""Where a bench_isolation run spends the pools' time: figures that survive a noisy machine.

A Probe samples, every half second while a run goes on:
- the CPU time (user + system) of the `deliveries` and `quarantine` pool processes, from
  /proc/<pid>/stat (each pool is one process of threads);
- the runs in flight to the slow endpoints (distinct claims): to those not yet known to fail
  (`consecutive_failures` 0: their lanes run in `deliveries`, the first contacts of the cold
  run), and to those known to fail (their lanes run in `quarantine`);
- the context switches of each pool's threads (voluntary and not, summed over
  /proc/<pid>/task/*/status): each wake-up of a thread blocked on a socket, a lock or the GIL
  is one; a count, so steadier than CPU time on a busy machine;
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


def context_switches(pid: int) -> int:
    """Context switches of all the threads of a process (those still alive)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/status") as status:
                for line in status:
                    if "ctxt_switches:" in line:
                        total += int(line.split()[-1])
        except (OSError, ValueError):
            continue
    return total


@dataclass
class Profile:
    cpu: dict[str, float] = field(default_factory=dict)  # pool -> CPU seconds during the run
    switches: dict[str, int] = field(default_factory=dict)  # pool -> context switches
    first_in_flight: list[int] = field(default_factory=list)  # samples
    retries_in_flight: list[int] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)
    taken_over: int = 0  # first contacts cut off in `deliveries`, taken over by quarantine
    messages: dict[str, int] = field(default_factory=dict)  # pool -> task messages received
    handed_over: int = 0  # lanes handed to quarantine unclaimed (code before 2026-12-04)

    def line(self) -> str:
        def peak_mean(samples: list[int]) -> str:
            if not samples:
                return "-"
            return f"{max(samples)}/{sum(samples) / len(samples):.0f}"

        cpu = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.cpu.items())
        switches = ", ".join(f"{name} {count:,}" for name, count in self.switches.items())
        messages = ", ".join(f"{name} {count:,}" for name, count in self.messages.items())
        return (
            f"CPU {cpu}; context switches {switches}; slow runs in flight (peak/mean): "
            f"not known to fail {peak_mean(self.first_in_flight)}, known to fail "
            f"{peak_mean(self.retries_in_flight)}; DB connections {peak_mean(self.connections)}; "
            f"messages received {messages}; first contacts taken over by quarantine "
            f"{self.taken_over}"
            + (f", handed over unclaimed {self.handed_over}" if self.handed_over else "")
        )


class Probe:
    def __init__(self, pids: dict[str, int], slow_ids: list[int], every: float = 0.5) -> None:
        self.pids, self.slow_ids, self.every = pids, slow_ids, every
        self.profile = Profile()
        self._start = {name: cpu_seconds(pid) for name, pid in pids.items()}
        self._switches = {name: context_switches(pid) for name, pid in pids.items()}
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
        self.profile.switches = {
            name: context_switches(pid) - self._switches[name] for name, pid in self.pids.items()
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
                "SELECT count(DISTINCT d.claim_token) FILTER (WHERE r.consecutive_failures = 0), "
                "count(DISTINCT d.claim_token) FILTER (WHERE r.consecutive_failures > 0) "
                "FROM notifications_delivery d JOIN notifications_recipient r "
                "ON r.id = d.recipient_id WHERE d.status = 'sending' AND d.recipient_id = ANY(%s)",
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
