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
