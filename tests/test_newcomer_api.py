"""What a newcomer meets on the way through the quickstart (issue 21): durations written as
elsewhere, the JSON Error body for every 404 and 409 (CSV export and malformed ids included),
a partial PATCH, and `api_token --create --grant` making a first token that works."""

from __future__ import annotations

import io
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from access.models import ApiToken, KeyGrant
from notifications.recipients import recipient_from_spec
from tasks.models import Batch
from tests.auth import api_client_for

pytestmark = pytest.mark.django_db

MALFORMED_IDS = ["%C2%84", "0.5", "x.y", "-", "1e3", "%00"]


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    import yaml

    out = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--file", str(out))
    return yaml.safe_load(out.read_text())


def detail_routes(schema) -> list[str]:
    return sorted(path for path in schema["paths"] if "{id}" in path)


@pytest.fixture
def api(django_user_model):
    return api_client_for(django_user_model.objects.create_user("newcomer"))


def assert_json_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["code"] == code and body["detail"] and body["errors"] == {}, body


@pytest.mark.parametrize("given, seconds", [("7d", 604800), ("90m", 5400), (3600, 3600)])
def test_expires_in_takes_a_duration_or_seconds(api, given, seconds, monkeypatch):
    created = api.post("/api/batches/", {"keys": ["a.txt"], "expires_in": given}, format="json")

    assert created.status_code == 201, created.content
    assert Batch.objects.get(id=created.json()["id"]).expires_in == seconds


@pytest.mark.parametrize("given", ["8d", "7x", "", "1.5h", 0])
def test_a_bad_duration_is_a_400_naming_expires_in(api, given):
    refused = api.post("/api/batches/", {"keys": ["a.txt"], "expires_in": given}, format="json")

    assert refused.status_code == 400, refused.content
    assert list(refused.json()["errors"]) == ["expires_in"]
    assert not Batch.objects.exists()


def test_a_schedule_takes_a_duration_too(api):
    KeyGrant.objects.get_or_create(user=ApiToken.objects.get().user, prefix="")
    created = api.post(
        "/api/schedules/",
        {
            "name": "weekly",
            "cron": "0 8 * * 1",
            "prefix": "r/",
            "selection": "newest",
            "newest_count": 1,
            "expires_in": "1d",
        },
        format="json",
    )

    assert created.status_code == 201, created.content
    assert created.json()["expires_in"] == 86400


def test_the_csv_export_before_signing_ends_is_the_json_409(api):
    batch = api.post("/api/batches/", {"keys": ["a.txt"]}, format="json").json()

    refused = api.get(f"/api/batches/{batch['id']}/links/?format=csv")

    assert_json_error(refused, 409, "unfinished")


def test_the_csv_export_of_no_such_batch_is_the_json_404(api):
    refused = api.get(f"/api/batches/{uuid.uuid4()}/links/?format=csv")

    assert_json_error(refused, 404, "not_found")


def test_every_detail_route_answers_a_malformed_id_with_the_json_404(api, schema):
    routes = detail_routes(schema)
    assert len(routes) >= 14, routes  # every route of one object (17 operations)

    for route in routes:
        for malformed in MALFORMED_IDS:
            path = route.replace("{id}", malformed)
            for method in ("get", "post", "patch", "delete"):
                answer = getattr(api, method)(path, {}, format="json")
                if answer.status_code == 405:
                    continue  # a method the route does not have (its own JSON body)
                assert_json_error(answer, 404, "not_found")


def test_a_path_outside_the_api_keeps_django_s_page(client):
    assert client.get("/nothing-here/")["Content-Type"].startswith("text/html")


def test_an_empty_patch_of_a_recipient_changes_nothing_and_answers_200(api):
    owner = ApiToken.objects.get().user
    hook = recipient_from_spec(owner, {"webhook": "https://hooks.example.com/a"}).recipient
    hook.event_types = ["links.issued"]
    hook.save()

    answer = api.patch(f"/api/recipients/{hook.id}/", {}, format="json")

    assert answer.status_code == 200, answer.content
    assert answer.json()["event_types"] == ["links.issued"]
    cleared = api.patch(f"/api/recipients/{hook.id}/", {"event_types": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["event_types"] is None


def token_of(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_api_token_creates_the_user_and_the_grant_so_the_first_batch_works(put_object):
    token, notes = token_of("alice", "--create", "--grant", "reports/")

    assert "created user 'alice'" in notes and "granted alice reports/" in notes
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/me/").json()["grants"] == ["reports/"]
    created = api.post("/api/batches/", {"keys": ["reports/a.csv"]}, format="json")
    assert created.status_code == 201, created.content
    refused = api.post("/api/batches/", {"keys": ["finance/a.csv"]}, format="json")
    assert refused.status_code == 403

    again, notes = token_of("alice", "--create", "--grant", "reports/")
    assert again != token and "already had reports/" in notes
    assert get_user_model().objects.filter(username="alice").count() == 1


def test_api_token_without_create_names_the_flags():
    with pytest.raises(CommandError, match="--create"):
        token_of("bob")
    assert not get_user_model().objects.filter(username="bob").exists()


def test_a_refused_grant_leaves_no_user_and_no_token():
    with pytest.raises(CommandError, match="--grant"):
        token_of("carol", "--create", "--grant", "_linkdist/")
    assert not get_user_model().objects.filter(username="carol").exists()
    assert not ApiToken.objects.exists()
