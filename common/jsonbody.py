"""The API's JSON parser: a body too deeply nested or holding text that is not Unicode is a
400 naming the body or the field, not a 500 later (a RecursionError while parsing, a
UnicodeEncodeError while rendering an error message that quotes the value).

JSON allows `"\\ud800"`, an unpaired surrogate: Python decodes it to a str no database,
time zone database or UTF-8 encoder accepts. Such text is refused where it enters.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 64  # arrays and objects inside each other; the API's bodies use fewer than 5
NOT_UNICODE = (
    "Surrogate characters are not allowed: an unpaired surrogate (e.g. \\ud800) is not Unicode text"
)


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(too_deep()) from None
        problem = first_problem(data)
        if problem is not None:
            field, message = problem
            if field is None:
                raise ParseError(message)
            raise ValidationError({field: [message]})
        return data


def too_deep() -> str:
    return f"JSON parse error - the body is nested more than {MAX_DEPTH} levels deep"


def first_problem(data: Any) -> tuple[str | None, str] | None:
    """(the top-level field or None for the body, why) of the first refused part; or None."""
    for field, depth, value in walk(data):
        if depth > MAX_DEPTH:
            return None, too_deep()
        if isinstance(value, str) and not is_unicode(value):
            return (field or "body"), NOT_UNICODE
    return None


def walk(data: Any) -> Iterator[tuple[str | None, int, Any]]:
    """Every value and key of `data` with its top-level field and depth, without recursion."""
    stack: list[tuple[str | None, int, Any]] = [(None, 0, data)]
    while stack:
        field, depth, value = stack.pop()
        yield field, depth, value
        if isinstance(value, dict):
            for key, inner in value.items():
                name = field if field is not None else (key if is_unicode(key) else "body")
                yield name, depth + 1, key
                stack.append((name, depth + 1, inner))
        elif isinstance(value, list):
            stack.extend((field, depth + 1, inner) for inner in value)


def is_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
