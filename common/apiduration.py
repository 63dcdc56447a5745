"""A duration in an API body, written as everywhere else: 3600 (seconds), "90m", "2h", "7d", "1w".

Integers stay seconds, as before; a string is digits and an optional unit (s, m, h, d, w),
read by the parser the settings and the command line use (`common.envparse`). The OpenAPI
document states exactly what is accepted: an integer within the limits, or a string whose
pattern admits only durations within them (`pattern_up_to`), so a schema-valid value is never
refused and a refused one is never schema-valid.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.envparse import DURATION_UNITS, duration_seconds

WRITTEN = re.compile(r"[0-9]+[smhdw]?")


def numbers_up_to(limit: int) -> str:
    """A regex for the decimal numbers 1..limit (no leading zeros), limit >= 1."""
    digits = str(limit)
    shorter = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    same_length = []
    for index, digit in enumerate(digits):
        low = 1 if index == 0 else 0
        if int(digit) > low:
            rest = len(digits) - index - 1
            tail = f"[0-9]{{{rest}}}" if rest else ""
            same_length.append(f"{digits[:index]}[{low}-{int(digit) - 1}]{tail}")
    return "|".join([*shorter, *same_length, digits])


def pattern_up_to(seconds: int) -> str:
    """A JSON Schema pattern for the durations of 1..seconds, in any unit."""
    parts = []
    for unit, size in DURATION_UNITS.items():
        if seconds // size:
            parts.append(f"(?:{numbers_up_to(seconds // size)}){unit}{'?' if unit == 's' else ''}")
    return f"^0*(?:{'|'.join(parts)})$"


class DurationSecondsField(serializers.IntegerField):
    """Seconds, given as an integer or a duration string; min/max apply to the seconds."""

    default_error_messages = {
        "invalid": "must be a valid integer of seconds or a duration such as 90m, 2h, 7d or 1w"
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        seconds: dict[str, Any] = {"type": "integer"}
        written: dict[str, Any] = {"type": "string", "pattern": "^[0-9]+[smhdw]?$"}
        if self.min_value is not None:
            seconds["minimum"] = self.min_value
        if self.max_value is not None:
            seconds["maximum"] = self.max_value
            if self.min_value == 1:
                written["pattern"] = pattern_up_to(int(self.max_value))
        written["examples"] = ["90m", "7d"]
        extend_schema_field({"oneOf": [seconds, written]})(self)  # type: ignore[type-var]

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str):
            if not WRITTEN.fullmatch(data):
                self.fail("invalid")
            data = duration_seconds(data)
        return super().to_internal_value(data)
