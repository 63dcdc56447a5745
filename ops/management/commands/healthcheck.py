"""Container health checks: `healthcheck worker ROLE` (upkeep, deliveries, quarantine, bulk)
and `healthcheck beat`.

`worker ROLE` passes when a worker on this host (its node name ends in @<hostname>, as the
Procfile names them) answers a broadcast and consumes the role's queue. `beat` passes when
beat's last heartbeat is younger than HEALTH_MAX_BEAT_AGE.
"""

from __future__ import annotations

import socket
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ops import heartbeat
from ops.probes_celery import answering_queues

ROLES = ("upkeep", "deliveries", "quarantine", "bulk")


def queue_of(role: str) -> str:
    return str(getattr(settings, f"QUEUE_{role.upper()}"))


class Command(BaseCommand):
    help = "Exit 0 when this host's worker (or beat) is doing its work; 1 with the reason if not."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("what", choices=["worker", "beat"])
        parser.add_argument("role", nargs="?", choices=ROLES)
        parser.add_argument("--any-host", action="store_true", help="a worker on any host")
        parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["what"] == "beat":
            self.check_beat()
        elif options["role"] is None:
            raise CommandError("name the worker's role: upkeep, deliveries, quarantine or bulk")
        else:
            self.check_worker(options["role"], options["any_host"], options["timeout"])

    def check_beat(self) -> None:
        at = heartbeat.latest().get(heartbeat.BEAT)
        if at is None:
            raise CommandError("beat has never sent a heartbeat")
        seconds = (timezone.now() - at).total_seconds()
        if seconds > settings.HEALTH_MAX_BEAT_AGE:
            raise CommandError(f"beat's last heartbeat is {seconds:.0f}s old")
        self.stdout.write(f"beat: last heartbeat {seconds:.0f}s ago")

    def check_worker(self, role: str, any_host: bool, timeout: float) -> None:
        queue = queue_of(role)
        host = None if any_host else socket.gethostname()
        if queue not in answering_queues(timeout, host):
            where = "any host" if host is None else host
            raise CommandError(f"no worker on {where} answered for queue {queue!r}")
        self.stdout.write(f"{role}: a worker answers for queue {queue!r}")
