"""Message bodies as pure functions of values: webhook parts of bounded size, email payloads."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

# What a message tells of each link, webhooks and emails alike (notifications/schemas/link.json).
LINK_FIELDS = ("id", "key", "url", "expires_at", "permalink", "filename")
TEST_MESSAGE = "A test event from linkdist: this endpoint receives and can verify deliveries."
# Room kept for `"part":N,"parts":N` before the number of parts is known.
_MAX_PART_DIGITS = 12


class PayloadTooLarge(ValueError):
    pass


@dataclass(frozen=True)
class Part:
    number: int
    count: int
    body: str


# One encoder for all: json.dumps() with options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def _value(value: Any) -> str:
    if type(value) is str:
        return encode_basestring(value)
    if value is None:
        return "null"
    if type(value) is int:
        return str(value)
    return _ENCODER.encode(value)


_LINK_PREFIXES = [
    ("{" if n == 0 else ",") + encode_basestring(name) + ":" for n, name in enumerate(LINK_FIELDS)
]


def webhook_link(item: Mapping[str, Any]) -> str:
    """One link as JSON, the same text as dumps() of its LINK_FIELDS, made faster."""
    pieces = []
    for prefix, name in zip(_LINK_PREFIXES, LINK_FIELDS, strict=True):
        pieces.append(prefix)
        pieces.append(_value(item.get(name)))
    pieces.append("}")
    return "".join(pieces)


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with `Z`, the one form of every time in a message (naive means UTC)."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.isoformat().replace("+00:00", "Z")


def _link(item: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {name: item.get(name) for name in fields}


def _envelope(event_type: str, timestamp: datetime, subject: str, reason: str | None) -> str:
    why = "" if reason is None else f'"reason":{dumps(reason)},'
    return (
        f'{{"type":{dumps(event_type)},"timestamp":{dumps(iso(timestamp))},'
        f'"data":{{"batch":{dumps(subject)},{why}"links":['
    )


def _tail(part: int, parts: int) -> str:
    return f'],"part":{part},"parts":{parts}}}}}'


def plan_parts(sizes: Sequence[int], limit: int, overhead: int) -> list[tuple[int, int]]:
    """Split links of the given byte sizes into [start, end) ranges whose bodies fit `limit`."""
    ranges: list[tuple[int, int]] = []
    start, used = 0, overhead
    for index, size in enumerate(sizes):
        if overhead + size > limit:
            raise PayloadTooLarge(
                f"link {index} alone makes a {overhead + size}-byte body, over {limit} bytes"
            )
        extra = size + (1 if index > start else 0)  # the comma between links
        if used + extra > limit:
            ranges.append((start, index))
            start, used, extra = index, overhead, size
        used += extra
    ranges.append((start, len(sizes)))
    return ranges


def webhook_parts(
    event_type: str,
    subject: str,
    timestamp: datetime,
    items: Sequence[Mapping[str, Any]],
    max_bytes: int,
    reason: str | None = None,
) -> tuple[int, Iterator[Part]]:
    """The number of parts, and the parts themselves made lazily (one in memory at a time).

    `reason`: why it happened, when the event says (links.revoked when access ended)."""
    head = _envelope(event_type, timestamp, subject, reason)
    widest_tail = _tail(10**_MAX_PART_DIGITS - 1, 10**_MAX_PART_DIGITS - 1)
    overhead = len(head.encode()) + len(widest_tail.encode())
    sizes = [_size(webhook_link(item)) for item in items]
    ranges = plan_parts(sizes, max_bytes, overhead)

    def parts() -> Iterator[Part]:
        for number, (start, end) in enumerate(ranges, start=1):
            links = ",".join(webhook_link(item) for item in items[start:end])
            yield Part(number, end - start, head + links + _tail(number, len(ranges)))

    return len(ranges), parts()


def earliest(values: Iterable[Any]) -> str | None:
    """The earliest of ISO 8601 times (naive ones taken as UTC), as given."""
    best: tuple[datetime, str] | None = None
    for value in values:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            continue
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if best is None or moment < best[0]:
            best = (moment, str(value))
    return best[1] if best else None


def email_payload(
    event_type: str,
    subject: str,
    timestamp: datetime,
    items: Sequence[Mapping[str, Any]],
    manifest_url: str | None,
    reason: str | None = None,
) -> str:
    """The links themselves, or (past the link limit) the manifest URL and the earliest expiry."""
    data: dict[str, Any] = {"batch": subject, "count": len(items)}
    if reason is not None:
        data["reason"] = reason
    if manifest_url is None:
        data["links"] = [_link(item, LINK_FIELDS) for item in items]
    else:
        data["manifest_url"] = manifest_url
        data["earliest_expires_at"] = earliest(item.get("expires_at") for item in items)
    return dumps({"type": event_type, "timestamp": iso(timestamp), "data": data})


def payload_for_test(recipient_id: int, timestamp: datetime) -> str:
    """The body of the `test` event (notifications/schemas/test.json)."""
    data = {"recipient": recipient_id, "message": TEST_MESSAGE}
    return dumps({"type": "test", "timestamp": iso(timestamp), "data": data})
