"""The webhook event catalog: one JSON Schema per event, published in the OpenAPI document and
docs/webhooks.md, and REAL bodies — made by the real code paths, sent by the real worker,
received by a loopback receiver — valid against them, with nothing undocumented in them."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from notifications import catalog
from notifications.payloads import payload_for_test, webhook_parts
from tests.auth import api_client_for

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "webhooks.md"
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def closed(schema: Any) -> Any:
    """The schema with every object closed to undocumented fields (unevaluatedProperties)."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: closed(value) for key, value in schema.items()}
    if "properties" in schema and schema.get("type") in ("object", None):
        out["unevaluatedProperties"] = False
    return out


def validator(event_type: str, strict: bool = True) -> Draft202012Validator:
    documents = catalog.registry()
    if strict:
        documents = {uri: closed(copy.deepcopy(doc)) for uri, doc in documents.items()}
    registry: Registry = Registry().with_resources(
        (uri, Resource.from_contents(doc)) for uri, doc in documents.items()
    )
    schema = documents[catalog.URN + event_type]
    return Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def assert_valid(body: dict[str, Any]) -> None:
    errors = list(validator(body["type"]).iter_errors(body))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def timestamps(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every (path, value) of a field that holds a time."""
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in timestamps(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [pair for v in value for pair in timestamps(v, path)]
    leaf = path.rsplit(".", 1)[-1]
    return [(path, value)] if leaf in {"timestamp", "expires_at"} and value else []


# --- the catalog as data -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(catalog.COMPONENT_NAMES))
def test_every_schema_is_valid_json_schema_and_its_examples_match(name):
    schema = catalog.schemas()[name]
    Draft202012Validator.check_schema(schema)
    for example in schema.get("examples", []):
        if isinstance(example, dict) and "type" in example:
            assert_valid(example)


def test_there_is_a_schema_for_each_event_type():
    assert catalog.EVENT_TYPES == (
        "links.issued",
        "links.refreshed",
        "links.revoked",
        "links.lapsed",
        "test",
    )
    for event_type in catalog.EVENT_TYPES:
        assert catalog.event_schema(event_type)["$id"] == catalog.URN + event_type


def test_a_body_with_another_type_or_a_missing_field_does_not_validate():
    [example] = catalog.event_schema("links.issued")["examples"]
    assert not validator("links.refreshed").is_valid(example)
    broken = copy.deepcopy(example)
    del broken["data"]["links"][0]["filename"]
    assert not validator("links.issued").is_valid(broken)
    offset = copy.deepcopy(example)
    offset["timestamp"] = "2026-12-01T08:00:00+00:00"
    assert not validator("links.issued").is_valid(offset)


def test_pure_payloads_match_their_schemas():
    item = {
        "id": 1,
        "key": "k",
        "url": "https://x/k",
        "expires_at": "2026-12-01T08:00:00Z",
        "permalink": None,
        "filename": "k.pdf",
    }
    moment = datetime(2026, 12, 1, 9, 0, 0, 123456, tzinfo=UTC)
    _, parts = webhook_parts("links.lapsed", "b", moment, [item] * 3, 8192)
    for part in parts:
        assert_valid(json.loads(part.body))
    assert_valid(json.loads(payload_for_test(12, moment)))


# --- published: OpenAPI and the guide ---------------------------------------------------


@pytest.mark.django_db
def test_the_openapi_document_publishes_every_event_with_its_schema(django_user_model):
    client = api_client_for(django_user_model.objects.create_user("reader"))
    document = client.get("/api/schema/", {"format": "json"}).json()

    assert document["openapi"].startswith("3.1")
    assert sorted(document["webhooks"]) == sorted(catalog.EVENT_TYPES)
    components = document["components"]["schemas"]
    for event_type, item in document["webhooks"].items():
        body = item["post"]["requestBody"]["content"]["application/json"]["schema"]
        name = body["$ref"].removeprefix("#/components/schemas/")
        assert name == catalog.COMPONENT_NAMES[event_type]
        assert components[name] == catalog.components()[name]
        headers = {p["name"] for p in item["post"]["parameters"]}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(components))
    assert set(refs) <= set(components)


def test_the_guide_covers_every_event_field_and_header():
    guide = GUIDE.read_text()
    for event_type in catalog.EVENT_TYPES:
        assert f"`{event_type}`" in guide
    for name in ("link", "links-event", "test"):
        schema = catalog.schemas()[name]
        fields = list(schema["properties"])
        fields += list(schema["properties"].get("data", {}).get("properties", {}))
        for field in fields:
            assert f"`{field}`" in guide or f"`data.{field}`" in guide, field
    for header in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        assert f"`{header}`" in guide
    for topic in ("HMAC-SHA256", "Retry-After", "410", "part", "expires_at", "permalink"):
        assert topic in guide
