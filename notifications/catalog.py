"""The webhook event catalog: one JSON Schema per event type, kept as data in schemas/.

    event_schema(event_type) -> the schema of that event's body (JSON Schema 2020-12)
    registry() -> every schema by its `urn:linkdist:webhooks:<name>` id, for a validator
    components() -> the schemas as OpenAPI 3.1 components, references rewritten to them

The files are the contract that docs/webhooks.md and the OpenAPI document's `webhooks`
section publish; a test checks real bodies against them.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).with_name("schemas")
URN = "urn:linkdist:webhooks:"
# Event types a recipient can subscribe to (the `test` event is sent on request only).
SUBSCRIBABLE = ("links.issued", "links.refreshed", "links.revoked", "links.lapsed")
TEST_EVENT = "test"
EVENT_TYPES = (*SUBSCRIBABLE, TEST_EVENT)
# File name (without .json) -> its name among the OpenAPI components.
COMPONENT_NAMES = {
    "timestamp": "WebhookTimestamp",
    "link": "WebhookLink",
    "links-event": "WebhookLinksEvent",
    "links.issued": "LinksIssuedEvent",
    "links.refreshed": "LinksRefreshedEvent",
    "links.revoked": "LinksRevokedEvent",
    "links.lapsed": "LinksLapsedEvent",
    "test": "TestEvent",
}


@functools.cache
def schemas() -> dict[str, dict[str, Any]]:
    """Every schema file by name (file name without .json)."""
    return {name: json.loads((SCHEMA_DIR / f"{name}.json").read_text()) for name in COMPONENT_NAMES}


def event_schema(event_type: str) -> dict[str, Any]:
    if event_type not in EVENT_TYPES:
        raise KeyError(f"no schema for event type {event_type!r}")
    return schemas()[event_type]


def registry() -> dict[str, dict[str, Any]]:
    return {document["$id"]: document for document in schemas().values()}


def _rewrite(value: Any) -> Any:
    """A schema with `urn:` references pointing at components, and no `$id`/`$schema`."""
    if isinstance(value, list):
        return [_rewrite(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in {"$id", "$schema"}:
            continue
        if key == "$ref" and isinstance(item, str) and item.startswith(URN):
            out[key] = f"#/components/schemas/{COMPONENT_NAMES[item.removeprefix(URN)]}"
        else:
            out[key] = _rewrite(item)
    return out


def components() -> dict[str, dict[str, Any]]:
    return {COMPONENT_NAMES[name]: _rewrite(schema) for name, schema in schemas().items()}
