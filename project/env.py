"""Typed access to the environment through django-environ, strict on every value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ

from common import envparse

BASE_DIR = Path(__file__).resolve().parent.parent

_env = environ.Env()
# Values already in the environment win over the file.
ENV_FILE = Path(_env.str("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env")))
if ENV_FILE.is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)


def text(name: str, default: str | None = None) -> str | None:
    value: str | None = _env.str(name, default=None)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def required(name: str, why: str) -> str:
    value = text(name)
    if value is None:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"{name} is required {why}")
    return value


def boolean(name: str, default: bool) -> bool:
    raw = text(name)
    return default if raw is None else envparse.parse_bool(name, raw)


def integer(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = text(name)
    return default if raw is None else envparse.parse_int(name, raw, minimum=minimum)


def seconds(name: str, default: int) -> int:
    raw = text(name)
    return default if raw is None else envparse.parse_duration(name, raw)


def optional_seconds(name: str) -> int | None:
    """A duration, or None when the variable is unset (the caller derives a value)."""
    raw = text(name)
    return None if raw is None else envparse.parse_duration(name, raw)


def cache_url(name: str, default: str) -> dict[str, Any]:
    config: dict[str, Any] = _env.cache_url_config(text(name, default))
    return config


def words(name: str, default: list[str]) -> list[str]:
    raw = text(name)
    return default if raw is None else [w.strip() for w in raw.split(",") if w.strip()]


def networks(name: str, default: list[str]) -> list[str]:
    """Comma-separated CIDR networks, each checked (a typo must not silently allow nothing)."""
    import ipaddress

    from django.core.exceptions import ImproperlyConfigured

    values = words(name, default)
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            message = f"{name}: {value!r} is not a network (e.g. 10.0.0.0/8)"
            raise ImproperlyConfigured(message) from None
    return values


def ports(name: str, default: str) -> list[tuple[int, int]]:
    """Comma-separated ports and ranges ('80,443,8000-8999'), as (lowest, highest) pairs."""
    return envparse.parse_port_ranges(name, text(name, default) or "")


def rate(name: str, default: str) -> tuple[int, int] | None:
    """Requests per period ('120/1m') as (count, seconds); None when 'off'."""
    return envparse.parse_rate(name, text(name, default) or "")


def db_url(name: str, default: str) -> dict[str, Any]:
    config: dict[str, Any] = _env.db_url_config(text(name, default))
    return config


def email_url(name: str, default: str) -> dict[str, Any]:
    config: dict[str, Any] = _env.email_url_config(text(name, default))
    return config


def durations(name: str, default: str) -> list[int]:
    """A comma-separated list of durations ('0,5s,5m,2h'), each parsed strictly."""
    raw = text(name, default) or ""
    return [envparse.parse_duration(name, part) for part in raw.split(",") if part.strip()]
