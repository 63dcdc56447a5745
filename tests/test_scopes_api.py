"""Key scopes through the API, the schedules API and the command line."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from schedules.models import Schedule
from tasks.batches.issuing import expand_prefix
from tasks.models import Batch
from tests.auth import api_client_for, grant


def batch_keys(client: APIClient, keys: list[str]):
    return client.post("/api/batches/", {"keys": keys, "expires_in": 600}, format="json")


@pytest.fixture
def alice(django_user_model):
    user = django_user_model.objects.create_user("alice")
    grant(user, "alice/")
    return user


@pytest.fixture
def bob(django_user_model):
    user = django_user_model.objects.create_user("bob")
    grant(user, "bob/")
    return user


@pytest.mark.django_db
def test_refused_keys_are_reported_per_key_like_missing_ones(alice, bob):
    keys = [
        "alice/a.txt",
        "bob/b.txt",  # another user's prefix
        "_linkdist/manifests/x/y.csv",  # the project's manifests
        "alice/../bob/b.txt",  # a dot-dot trick
        "alice//x",  # an empty segment
        "\u0430lice/a.txt",  # Cyrillic a: a look-alike of alice/
    ]
    response = batch_keys(api_client_for(alice), keys)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["total"], body["skipped"]) == (6, 5)
    reported = {row["key"]: row for row in body["skipped_keys"]}
    assert set(reported) == set(keys[1:])
    assert {row["reason"] for row in reported.values()} == {"refused"}
    assert "reserved" in reported["_linkdist/manifests/x/y.csv"]["detail"]
    assert "'..'" in reported["alice/../bob/b.txt"]["detail"]
    assert "outside your scope" in reported["bob/b.txt"]["detail"]
    batch = Batch.objects.get(id=body["id"])
    assert list(batch.chunks.values_list("keys", flat=True)) == [["alice/a.txt"]]


@pytest.mark.django_db
def test_a_batch_with_no_allowed_key_is_403_naming_the_scope_and_writes_nothing(alice, bob):
    response = batch_keys(api_client_for(alice), ["bob/b.txt", "_linkdist/manifests/a.csv"])

    assert response.status_code == 403
    assert "'alice/'" in response.json()["detail"]
    assert not Batch.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", ["bob/", "alice/../bob/", "_linkdist/", "alice//"])
def test_a_prefix_outside_the_scope_is_403_before_any_listing(alice, bob, prefix):
    client = api_client_for(alice)
    response = client.post("/api/batches/", {"prefix": prefix, "expires_in": 600}, format="json")

    assert response.status_code == 403, response.json()
    assert "refused" in response.json()["detail"]
    assert not Batch.objects.exists()


@pytest.mark.django_db
def test_the_manifests_prefix_is_refused_to_a_user_granted_the_whole_bucket(django_user_model):
    root = django_user_model.objects.create_user("root")
    grant(root, "")
    client = api_client_for(root)

    for prefix in ("_linkdist/manifests/", "_LINKDIST/manifests/"):
        response = client.post("/api/batches/", {"prefix": prefix, "expires_in": 60}, format="json")
        assert response.status_code == 403
        assert "reserved" in response.json()["detail"]
    response = batch_keys(client, ["_linkdist/manifests/b/1.csv"])
    assert response.status_code == 403
    assert not Batch.objects.exists()


@pytest.mark.django_db
def test_a_token_narrower_than_its_user(alice):
    narrow = api_client_for(alice, prefixes=["alice/reports/"])

    refused = batch_keys(narrow, ["alice/private/diary.txt"])
    assert refused.status_code == 403
    assert "narrowed by this token to 'alice/reports/'" in refused.json()["detail"]
    assert batch_keys(narrow, ["alice/reports/q1.pdf"]).status_code == 201
    assert batch_keys(api_client_for(alice), ["alice/private/diary.txt"]).status_code == 201


@pytest.mark.django_db
def test_a_user_without_grants_may_share_nothing(django_user_model):
    nobody = django_user_model.objects.create_user("nobody")
    response = batch_keys(api_client_for(nobody, granted=False), ["x.txt"])

    assert response.status_code == 403
    assert "keys under none" in response.json()["detail"]


@pytest.mark.django_db
def test_me_shows_grants_and_the_token_in_use(alice):
    response = api_client_for(alice, prefixes=["alice/reports/"]).get("/api/me/")

    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice"
    assert body["grants"] == ["alice/"]
    assert body["reserved"] == ["_linkdist/"]
    assert body["token"]["prefixes"] == ["alice/reports/"]
    assert body["token"]["hint"].startswith("ld_")


@pytest.mark.django_db
def test_a_schedule_is_checked_at_create_and_at_run(alice):
    client = api_client_for(alice)
    spec = {"name": "n", "cron": "0 8 * * 1", "selection": "newest", "expires_in": 600}

    refused = client.post("/api/schedules/", {**spec, "prefix": "bob/"}, format="json")
    assert refused.status_code == 403
    assert "'alice/'" in refused.json()["detail"]
    made = client.post("/api/schedules/", {**spec, "prefix": "alice/r/"}, format="json")
    assert made.status_code == 201, made.json()

    from schedules.runs import RunFailed, choose

    alice.key_grants.all().delete()  # the grant is withdrawn before the run
    with pytest.raises(RunFailed, match="outside your scope"):
        choose(Schedule.objects.get(id=made.json()["id"]))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ["--key", "_linkdist/manifests/b/1.csv"],
        ["--prefix", "_linkdist/"],
        ["--key", "a/../_linkdist/manifests/b/1.csv"],
    ],
)
def test_the_command_line_may_not_ask_for_the_reserved_prefix(args):
    with pytest.raises(CommandError, match=r"may be shared|refused"):
        call_command("share_links", *args, "--expires-in", "60")
    assert not Batch.objects.exists()


@pytest.mark.s3
@pytest.mark.django_db
def test_a_listing_under_a_broad_prefix_never_takes_the_manifests(put_object):
    tag = uuid.uuid4().hex[:8]
    put_object(f"_linkdist/manifests/{tag}/secret.csv", b"x")
    put_object(f"_l{tag}/own.txt", b"y")
    call_command("share_links", "--prefix", "_l", "--expires-in", "60")
    batch = Batch.objects.get()

    expand_prefix(batch.id)
    keys = [key for chunk in batch.chunks.values_list("keys", flat=True) for key in chunk]
    assert f"_l{tag}/own.txt" in keys
    assert not [key for key in keys if key.startswith("_linkdist/")]
    assert not batch.skipped_keys.filter(key__startswith="_linkdist/").exists()


@pytest.mark.django_db
def test_the_staff_page_does_not_sign_the_reserved_prefix(admin_client):
    response = admin_client.get("/staff/object-links/", {"key": "_linkdist/manifests/b/1.csv"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "reserved for the project" in page
    assert "X-Amz-Signature" not in page


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "why"), [("alice/a\x00b", "Null"), ("alice/\ud800", "Surrogate")])
def test_keys_that_cannot_even_be_stored_are_a_400(alice, key, why):
    body = json.dumps({"keys": ["alice/ok.txt", key], "expires_in": 60})  # ASCII escapes
    response = api_client_for(alice).post("/api/batches/", body, content_type="application/json")

    assert response.status_code == 400
    assert why in str(response.json()["errors"])
    assert not Batch.objects.exists()


@pytest.mark.django_db
def test_a_superuser_shares_like_the_operator_and_a_token_still_narrows(django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")

    client = api_client_for(root, granted=False)
    assert client.get("/api/me/").json()["grants"] == [""]
    assert batch_keys(client, ["anything/x.txt"]).status_code == 201
    assert batch_keys(client, ["_linkdist/manifests/b/1.csv"]).status_code == 403
    narrow = api_client_for(root, granted=False, prefixes=["reports/"])
    assert batch_keys(narrow, ["anything/x.txt"]).status_code == 403
