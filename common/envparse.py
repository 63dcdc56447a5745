"""Strict parsing of environment values: a bad value is an error naming the variable."""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$", re.IGNORECASE)


def parse_bool(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0/yes/no), got {raw!r}")


def parse_int(name: str, raw: str, *, minimum: int | None = None) -> int:
    try:
        value = int(raw.strip(), 10)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def duration_seconds(text: str) -> int:
    """Seconds in '3600', '90m', '2h', '7d' or '1w'; ValueError otherwise."""
    match = DURATION_RE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration (examples: 3600, 90m, 2h, 7d)")
    number, unit = match.groups()
    return int(number) * DURATION_UNITS[(unit or "s").lower()]


def parse_duration(name: str, raw: str) -> int:
    try:
        return duration_seconds(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}") from None
