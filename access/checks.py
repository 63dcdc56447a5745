"""System checks: the encryption keys of secrets at rest (FIELD_ENCRYPTION_KEYS)."""

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
