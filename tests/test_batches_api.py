"""The batches API: token auth, create, progress, links, CSV export, errors that name the field."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tasks.models import Batch, BatchChunk, ShareLink
from tests.auth import api_token
from tests.batches import unique_prefix, wait_for_batch
from tests.helpers import download


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


@pytest.fixture
def alice(django_user_model) -> APIClient:
    return client_for(django_user_model.objects.create_user("alice"))


@pytest.fixture
def bob(django_user_model) -> APIClient:
    return client_for(django_user_model.objects.create_user("bob"))


@pytest.mark.s3
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_create_poll_list_and_export(alice, celery_worker, put_object):
    prefix = unique_prefix("api")
    bodies = {f"{prefix}{name}": name.encode() * 3 for name in ("one.txt", "two.txt", "three.txt")}
    for key, body in bodies.items():
        put_object(key, body)
    keys = [*bodies, f"{prefix}one.txt", f"{prefix}absent.txt"]

    response = alice.post(
        "/api/batches/", {"keys": keys, "expires_in": 1200, "check_existence": True}, format="json"
    )

    assert response.status_code == 201, response.content
    batch_id = response.json()["id"]
    assert response.json()["total"] == 4
    wait_for_batch(batch_id)
    detail = alice.get(f"/api/batches/{batch_id}/").json()
    assert (detail["status"], detail["signed"], detail["skipped"]) == ("done", 3, 1)
    assert detail["skipped_keys"] == [
        {"key": f"{prefix}absent.txt", "reason": "missing", "detail": "no such object"}
    ]

    first = alice.get(f"/api/batches/{batch_id}/links/", {"page_size": 2}).json()
    second = alice.get(first["next"]).json()
    listed = first["results"] + second["results"]
    assert second["next"] is None
    assert sorted(link["key"] for link in listed) == sorted(bodies)
    for link in listed:
        assert download(link["url"]).content == bodies[link["key"]]

    export = alice.get(f"/api/batches/{batch_id}/links/", {"format": "csv"})
    assert export.status_code == 200
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [row["status"] for row in rows] == ["active"] * 3 + ["missing"]
    for row in rows[:3]:
        assert download(row["url"]).content == bodies[row["key"]]
    assert alice.get("/api/batches/").json()["results"][0]["id"] == batch_id


@pytest.mark.django_db
def test_another_users_batch_is_not_found(alice, bob):
    response = alice.post("/api/batches/", {"keys": ["x/1"], "expires_in": 60}, format="json")
    batch_id = response.json()["id"]

    assert bob.get(f"/api/batches/{batch_id}/").status_code == 404
    assert bob.get(f"/api/batches/{batch_id}/links/").status_code == 404
    assert bob.get(f"/api/batches/{batch_id}/links/", {"format": "csv"}).status_code == 404
    assert bob.get("/api/batches/").json()["results"] == []
    assert alice.get(f"/api/batches/{batch_id}/").status_code == 200


@pytest.mark.django_db
def test_no_token_no_batches(client):
    assert (
        client.post("/api/batches/", {"keys": ["a"]}, content_type="application/json").status_code
        == 401
    )
    assert Batch.objects.count() == 0


@pytest.mark.django_db
def test_export_waits_for_the_batch_to_finish(alice):
    batch_id = alice.post("/api/batches/", {"keys": ["x/1"]}, format="json").json()["id"]

    response = alice.get(f"/api/batches/{batch_id}/links/", {"format": "csv"})

    assert response.status_code == 409
    assert b"export it once its status is done" in response.content


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"keys": ["a"], "expires_in": 0}, "expires_in", "between 1 and 604800"),
        ({"keys": ["a"], "expires_in": 604801}, "expires_in", "between 1 and 604800"),
        ({"keys": ["a"], "expires_in": "soon"}, "expires_in", "valid integer"),
        ({"keys": [], "expires_in": 60}, "keys", "no keys given"),
        ({"keys": ["ok", "k" * 1025]}, "keys[1]", "at most 1024 bytes"),
        ({"keys": ["ok", "é" * 600]}, "keys[1]", "at most 1024 bytes"),
        ({"keys": ["ok", ""]}, "keys[1]", "non-empty"),
        ({"keys": "a-string"}, "keys", "list"),
        ({"keys": ["a"], "prefix": "p/"}, "prefix", "not both"),
        ({"expires_in": 60}, "keys", "or a prefix"),
        ({"prefix": ""}, "prefix", "the prefix is empty"),
        ({"key": ["a"]}, "key", "unknown field"),
        (
            {"keys": ["a"], "refresh": False, "refresh_until": "2099-01-01T00:00:00Z"},
            "refresh_until",
            "only used when refresh is on",
        ),
        ({"keys": ["a"], "refresh_until": "2001-01-01T00:00:00Z"}, "refresh_until", "has passed"),
        ({"keys": ["a"], "refresh_until": "next week"}, "refresh_until", "format"),
    ],
)
@pytest.mark.django_db
def test_bad_bodies_get_400_naming_the_field_and_write_nothing(alice, body, field, words):
    response = alice.post("/api/batches/", body, format="json")

    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in errors
    assert words in str(errors[field])
    assert Batch.objects.count() == BatchChunk.objects.count() == ShareLink.objects.count() == 0


@pytest.mark.django_db
@override_settings(LINKS_MAX_BATCH_SIZE=3)
def test_a_batch_over_the_maximum_size_is_refused(alice):
    response = alice.post("/api/batches/", {"keys": ["a", "b", "a", "c", "d"]}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "keys": ["4 distinct keys; a batch holds at most 3 (LINKS_MAX_BATCH_SIZE)"]
    }
    assert Batch.objects.count() == 0


@pytest.mark.django_db
def test_malformed_json_is_a_400(alice):
    response = alice.post("/api/batches/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.s3
@pytest.mark.django_db
def test_a_prefix_with_no_objects_is_a_404_naming_it(alice, media_bucket):
    prefix = unique_prefix("nothing-here")

    response = alice.post("/api/batches/", {"prefix": prefix}, format="json")

    assert response.status_code == 404
    assert response.json()["errors"] == {
        "prefix": [f"no objects under the prefix {prefix!r} in {media_bucket!r}"]
    }
    assert Batch.objects.count() == 0


@pytest.mark.django_db
def test_openapi_schema_describes_the_batches_api(alice):
    response = alice.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/batches/", "/api/batches/{id}/", "/api/batches/{id}/links/"} <= set(paths)
    create = paths["/api/batches/"]["post"]
    assert "201" in create["responses"]
    assert "text/csv" in paths["/api/batches/{id}/links/"]["get"]["responses"]["200"]["content"]
