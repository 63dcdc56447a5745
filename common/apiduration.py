"""A duration in an API body, written as everywhere else: 3600 (seconds), "90m", "2h", "7d", "1w".

Integers (and digit strings) stay seconds, as before; a string with a unit is read by the same
parser as the settings and the command line (`common.envparse.duration_seconds`).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.envparse import duration_seconds

PATTERN = r"^\s*\d+\s*[smhdwSMHDW]?\s*$"


class DurationSecondsField(serializers.IntegerField):
    """Seconds, given as an integer or a duration string; min/max apply to the seconds."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        seconds: dict[str, Any] = {"type": "integer"}
        if self.min_value is not None:
            seconds["minimum"] = self.min_value
        if self.max_value is not None:
            seconds["maximum"] = self.max_value
        written = {"type": "string", "pattern": PATTERN, "examples": ["90m", "7d"]}
        extend_schema_field({"oneOf": [seconds, written]})(self)  # type: ignore[type-var]

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str) and not data.strip().isdigit():
            try:
                data = duration_seconds(data)
            except ValueError:
                self.fail("invalid_duration")
        return super().to_internal_value(data)

    default_error_messages = {
        "invalid_duration": "a number of seconds or a duration such as 90m, 2h, 7d, 1w",
    }
