"""System checks: the encryption keys of secrets at rest (FIELD_ENCRYPTION_KEYS), and the
proxies whose forwarded client addresses are believed (TRUSTED_PROXIES)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register

from common.encryption import VARIABLE, key_problem


@register()
def encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    keys = list(getattr(settings, VARIABLE, None) or [])
    problem = key_problem(keys)
    if problem is None:
        return []
    if not keys and settings.DEBUG:
        return [
            Warning(
                problem,
                hint="Webhook secrets and header values cannot be stored until it is set.",
                id="access.W001",
            )
        ]
    return [
        Error(
            problem,
            hint="Webhook secrets and header values are encrypted with these keys.",
            id="access.E001",
        )
    ]


@register()
def trusted_proxies(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    if getattr(settings, "TRUSTED_PROXY_COUNT", 0) and not getattr(settings, "TRUSTED_PROXIES", []):
        return [
            Warning(
                "TRUSTED_PROXY_COUNT is set but no longer used: X-Forwarded-For is believed "
                "only from the proxies named in TRUSTED_PROXIES (none now: every client is "
                "counted at the address the process sees)",
                hint="Set TRUSTED_PROXIES to your proxies' addresses or networks, e.g. "
                "10.0.0.5 or 172.16.0.0/12 (docs/security.md, deployment shapes).",
                id="access.W002",
            )
        ]
    return []
