"""The shortest refresh margin that still holds through a lost worker: derived from settings.

A link due at `refresh_at` is taken by the next refresh pass (at most LINKS_REFRESH_INTERVAL
later; if that pass dies with its worker, its links are due again when its lease ends,
LINKS_REFRESH_LEASE, and the next pass takes them within an interval), and its
`links.refreshed` delivery may be lost with a worker and come back only after the
worst-case recovery of notifications/recovery.py. The margin in force is never shorter:
planner.policy_for() raises the floor to it, and a system check warns when LINKS_REFRESH_FLOOR is
set below it (and refuses to start when no link could ever be protected).
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from notifications.recovery import NAMES, RecoverySettings, worst_case

MAX_TTL = 604800  # seconds: a pre-signed URL lives at most 7 days


def minimum_margin(refresh_interval: float, recovery: RecoverySettings, lease: float = 0) -> int:
    lost_pass = max(refresh_interval, lease)  # a dead pass's links wait for its lease to end
    return int(-(-(refresh_interval + lost_pass + worst_case(recovery)) // 1))


def current_minimum() -> int:
    return minimum_margin(
        settings.LINKS_REFRESH_INTERVAL, RecoverySettings.current(), settings.LINKS_REFRESH_LEASE
    )


def check_margin(**kwargs: object) -> list[checks.CheckMessage]:
    needed = current_minimum()
    found: list[checks.CheckMessage] = []
    if needed * 2 > MAX_TTL:
        found.append(
            checks.Error(
                f"a refresh margin of at least {needed} s is needed to survive a lost worker, "
                "more than half the longest link life (7 days): no refreshing link could be "
                "kept alive",
                hint=f"lower LINKS_REFRESH_INTERVAL or {NAMES}",
                id="tasks.E010",
            )
        )
    elif needed > settings.LINKS_REFRESH_FLOOR:
        found.append(
            checks.Warning(
                f"LINKS_REFRESH_FLOOR ({settings.LINKS_REFRESH_FLOOR} s) is below the worst-case "
                f"recovery of a lost delivery plus two refresh intervals ({needed} s): the "
                f"floor in force is {needed} s",
                hint=f"it follows from LINKS_REFRESH_INTERVAL and {NAMES}",
                id="tasks.W010",
            )
        )
    return found
