"""The API's contract: one error body, every answer documented, docs served from here."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.auth import api_client_for

ERROR_REF = "#/components/schemas/Error"
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import yaml

    out = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    return yaml.safe_load(out.read_text())


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_the_document_is_openapi_3_1(schema):
    assert schema["openapi"].startswith("3.1.")
    assert len(operations(schema)) >= 20


def test_every_operation_documents_its_errors_with_the_one_error_body(schema):
    for method, path, operation in operations(schema):
        codes = set(operation["responses"])
        needed = {"401", "403"}
        if "{" in path:
            needed.add("404")
        if "requestBody" in operation:
            needed |= {"400", "415"}
        assert needed <= codes, f"{method} {path} documents {sorted(codes)}"
        for code in codes - {"200", "201", "202", "204"}:
            body = operation["responses"][code]["content"]["application/json"]["schema"]
            assert body == {"$ref": ERROR_REF}, f"{method} {path} {code}"


@pytest.mark.django_db
def test_errors_answer_one_body_naming_the_field(django_user_model):
    alice = api_client_for(django_user_model.objects.create_user("alice"))

    refused = alice.post("/api/batches/", {"keys": ["a"], "expires_in": 0}, format="json")
    missing = alice.get("/api/batches/00000000-0000-0000-0000-000000000000/")
    anonymous = APIClient().get("/api/batches/")

    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid"
    assert set(refused.json()["errors"]) == {"expires_in"}
    assert (missing.status_code, missing.json()["code"], missing.json()["errors"]) == (
        404,
        "not_found",
        {},
    )
    assert anonymous.status_code == 401
    assert set(anonymous.json()) == {"code", "detail", "errors"}


@pytest.mark.django_db
def test_nested_fields_are_named_as_a_path(django_user_model):
    alice = api_client_for(django_user_model.objects.create_user("alice"))
    body = {"keys": ["a"], "recipients": [{"email": "ops@example.com"}, {"webhook": "ftp://x"}]}

    response = alice.post("/api/batches/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["recipients[1].webhook"]


@pytest.mark.django_db
def test_the_api_root_lists_the_resources(django_user_model):
    alice = api_client_for(django_user_model.objects.create_user("alice"))

    listed = alice.get("/api/").json()

    assert listed["batches"] == "http://testserver/api/batches/"
    assert {"schedules", "recipients", "deliveries", "schema", "docs"} <= set(listed)


def test_the_docs_page_needs_no_cdn(client):
    page = client.get("/api/docs/").content.decode()

    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn." not in page and "unpkg" not in page


RECIPIENT = {"webhook": "https://hooks.example.com/links"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/recipients/", {"webhook": "https://hooks.example.com/\u0000x"}, "webhook"),
        ("/api/recipients/", '{"webhook": "https://hooks.example.com/\\ud800"}', "webhook"),
        ("/api/recipients/", {**RECIPIENT, "headers": {"X-Name": "Zoë ✓"}}, "headers.X-Name"),
        ("/api/batches/", {"keys": ["a\u0000b"]}, "keys[0]"),
        (
            "/api/batches/",
            {"keys": ["a"], "recipients": [{"email": "ops@example.com"}, {"webhook": "x\x00"}]},
            "recipients[1].webhook",
        ),
        ("/api/schedules/", {"newest_count": 2**40}, "newest_count"),
        ("/api/schedules/", {"refresh_for": 10**15}, "refresh_for"),
        ("/api/schedules/", {"cron": "0" * 400 + " 8 * * 1"}, "cron"),
        ("/api/schedules/", {"cron": ",".join(["1"] * 200) + " 8 * * 1"}, "cron"),
    ],
)
def test_input_that_used_to_fail_on_the_database_is_a_400_naming_the_field(
    django_user_model, path, body, field
):
    alice = api_client_for(django_user_model.objects.create_user("alice"))
    if path == "/api/schedules/":
        body = {**SCHEDULE, **body}

    if isinstance(body, str):
        response = alice.post(path, body, content_type="application/json")
    else:
        response = alice.post(path, body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


SCHEDULE = {
    "name": "weekly",
    "cron": "0 8 * * 1",
    "prefix": "reports/",
    "selection": "newest",
    "expires_in": 3600,
}


@pytest.mark.django_db
def test_a_huge_grace_period_is_a_400_naming_it(django_user_model):
    alice = api_client_for(django_user_model.objects.create_user("alice"))
    made = alice.post("/api/recipients/", RECIPIENT, format="json").json()

    response = alice.post(
        f"/api/recipients/{made['id']}/rotate-secret/", {"grace_seconds": 10**12}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["grace_seconds"]


@pytest.mark.django_db
def test_a_latin_1_header_value_is_kept(django_user_model):
    alice = api_client_for(django_user_model.objects.create_user("alice"))
    body = {**RECIPIENT, "headers": {"X-Name": "Zoë"}}

    assert alice.post("/api/recipients/", body, format="json").status_code == 201


@pytest.mark.django_db
def test_a_taken_name_is_a_409_naming_it(django_user_model):
    alice = api_client_for(django_user_model.objects.create_user("alice"))
    assert alice.post("/api/schedules/", SCHEDULE, format="json").status_code == 201

    again = alice.post("/api/schedules/", SCHEDULE, format="json")

    assert (again.status_code, again.json()["code"], list(again.json()["errors"])) == (
        409,
        "conflict",
        ["name"],
    )


def test_bodies_that_need_fields_say_so(schema):
    components = schema["components"]["schemas"]
    batch = components["BatchCreateRequest"]
    assert batch["oneOf"] == [{"required": ["keys"]}, {"required": ["prefix"]}]
    assert batch["additionalProperties"] is False
    assert set(components["ScheduleWriteRequest"]["required"]) == {
        "name",
        "cron",
        "prefix",
        "selection",
        "expires_in",
    }
    spec = components["RecipientSpecRequest"]["oneOf"]
    assert [set(option_of(components, one)["required"]) for one in spec] == [
        {"email"},
        {"webhook"},
    ]


def option_of(components: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    return components[ref["$ref"].rsplit("/", 1)[1]]


def test_every_operation_and_field_is_described(schema):
    for method, path, operation in operations(schema):
        assert operation.get("summary") and operation.get("description"), f"{method} {path}"
    for name in components_used_by_paths(schema):
        component = schema["components"]["schemas"][name]
        for field, prop in component.get("properties", {}).items():
            described = prop.get("description") or "$ref" in prop or "allOf" in prop
            assert described, f"{name}.{field}"


def components_used_by_paths(schema: dict[str, Any]) -> set[str]:
    """The schema components the operations refer to, directly or through others."""
    seen: set[str] = set()
    todo: list[Any] = [schema["paths"]]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] not in seen:
                seen.add(ref.rsplit("/", 1)[1])
                todo.append(schema["components"]["schemas"][ref.rsplit("/", 1)[1]])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return seen


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["event_type", "subject", "status", "recipient"])
def test_an_empty_delivery_filter_is_a_400_naming_it(django_user_model, name):
    alice = api_client_for(django_user_model.objects.create_user("alice"))

    response = alice.get("/api/deliveries/", {name: ""})

    assert response.status_code == 400
    assert name in response.json()["errors"]
