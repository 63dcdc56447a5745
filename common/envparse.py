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


PORT_RANGE_RE = re.compile(r"^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$")


def parse_port_ranges(name: str, raw: str) -> list[tuple[int, int]]:
    """'80,443,8000-8999' -> [(80, 80), (443, 443), (8000, 8999)], each within 1..65535."""
    ranges = []
    for part in raw.split(","):
        match = PORT_RANGE_RE.match(part)
        low = int(match.group(1)) if match else 0
        high = int(match.group(2) or low) if match else 0
        if not 1 <= low <= high <= 65535:
            raise ImproperlyConfigured(
                f"{name}: {part.strip()!r} is not a port or a range of ports "
                "(e.g. 443 or 8000-8999)"
            )
        ranges.append((low, high))
    return ranges


OFF_WORDS = frozenset({"off", "none", "unlimited"})


def parse_rate(name: str, raw: str) -> tuple[int, int] | None:
    """'120/1m' -> (120, 60): requests per period; '10/m' means one minute; 'off' -> None."""
    if raw.strip().lower() in OFF_WORDS:
        return None
    count, slash, period = raw.partition("/")
    period = period.strip()
    if period[:1].isalpha():
        period = "1" + period
    try:
        rate = int(count.strip(), 10), duration_seconds(period)
    except ValueError:
        rate = 0, 0
    if not slash or rate[0] < 1 or rate[1] < 1:
        raise ImproperlyConfigured(
            f"{name} must be a number of requests per period (e.g. 120/1m, 10/5m) or off, "
            f"got {raw!r}"
        )
    return rate
