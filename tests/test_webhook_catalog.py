"""The webhook event catalog: one JSON Schema per event, published in the OpenAPI document and
docs/webhooks.md, and REAL bodies — made by the real code paths, sent by the real worker,
received by a loopback receiver — valid against them, with nothing undocumented in them."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from standardwebhooks.webhooks import Webhook

from notifications import catalog
from notifications.payloads import payload_for_test, webhook_parts
from tasks.models import ShareLink
from tasks.refresh import refresher
from tasks.refresh.lapsing import lapse_expired
from tests.auth import api_client_for
from tests.batches import unique_prefix, wait_for_batch

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


# --- real bodies, end to end --------------------------------------------------------------


@pytest.mark.s3
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_bodies_of_every_event_match_their_schemas(
    django_user_model, celery_worker, put_object, receiver
):
    prefix = unique_prefix("catalog")
    keys = [put_object(f"{prefix}{name}", b"x") for name in ("a.pdf", "b.pdf", "c.pdf")]
    hook = receiver()
    alice = api_client_for(django_user_model.objects.create_user("alice"))
    created = alice.post(
        "/api/batches/",
        {
            "keys": keys,
            "expires_in": 600,
            "refresh": True,
            "notify_lapsed": True,
            "filename_from_key": True,
            "recipients": [{"webhook": hook.url}],
        },
        format="json",
    ).json()
    [shown] = created["recipients"]
    batch = wait_for_batch(created["id"])
    hook.wait_for(1)
    links = {link.key: link for link in ShareLink.objects.filter(batch=batch)}

    # links.refreshed: the refresh pass, with the links due now
    ShareLink.objects.filter(batch=batch).update(refresh_at=timezone.now())
    assert refresher.run_pass().refreshed == 3
    hook.wait_for(2)
    # links.revoked: through the API
    assert alice.post(f"/api/links/{links[keys[0]].id}/revoke/").status_code == 200
    hook.wait_for(3)
    # links.lapsed: a link past its expiry with no refresh ahead, swept
    past = timezone.now() - timedelta(seconds=1)
    ShareLink.objects.filter(id=links[keys[1]].id).update(expires_at=past, refresh_at=None)
    assert lapse_expired(timezone.now()).lapsed == 1
    hook.wait_for(4)
    # test: through the API
    answer = alice.post(f"/api/recipients/{shown['id']}/send-test/")
    assert answer.status_code == 202, answer.content
    received = hook.wait_for(5)

    bodies = [Webhook(shown["secret"]).verify(r.body, r.headers) for r in received]
    assert [body["type"] for body in bodies] == [
        "links.issued",
        "links.refreshed",
        "links.revoked",
        "links.lapsed",
        "test",
    ]
    for body in bodies:
        assert_valid(body)
        for path, value in timestamps(body):
            assert RFC3339_Z.match(value), (body["type"], path, value)
    issued = bodies[0]["data"]["links"]
    assert [link["filename"] for link in issued] == ["a.pdf", "b.pdf", "c.pdf"]
    assert bodies[4]["data"]["recipient"] == shown["id"]
