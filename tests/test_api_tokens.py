"""API tokens: made by `manage.py api_token`, shown once, stored hashed, rotated, expiring."""

from __future__ import annotations

import hashlib
import importlib
import io
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from access.models import ApiToken


def make_token(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=err)
    assert "shown once" in err.getvalue()
    return out.getvalue().strip()


def me(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get("/api/me/")


@pytest.fixture
def carol(django_user_model):
    return django_user_model.objects.create_user("carol")


@pytest.mark.django_db
def test_the_command_prints_a_token_that_works_and_is_stored_hashed(carol):
    token = make_token("carol")

    assert me(token).status_code == 200
    row = ApiToken.objects.get(user=carol)
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    stored = " ".join(str(value) for value in ApiToken.objects.values_list().get())
    assert token not in stored
    assert me(token + "x").status_code == 401


@pytest.mark.django_db
def test_rotate_revokes_the_older_tokens(carol):
    first = make_token("carol")
    second = make_token("carol")
    assert me(first).status_code == me(second).status_code == 200

    third = make_token("carol", "--rotate")

    assert me(first).status_code == me(second).status_code == 401
    assert me(third).status_code == 200


@pytest.mark.django_db
def test_a_token_expires(carol):
    token = make_token("carol", "--expires-in", "90d")
    row = ApiToken.objects.get(user=carol)
    assert row.expires_at is not None
    assert timedelta(days=89) < row.expires_at - timezone.now() <= timedelta(days=90)
    assert me(token).json()["token"]["expires_at"] is not None

    ApiToken.objects.filter(id=row.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = me(token)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


@pytest.mark.django_db
def test_a_token_narrowed_by_the_command(carol):
    token = make_token("carol", "--scope", "carol/reports/")
    assert me(token).json()["token"]["prefixes"] == ["carol/reports/"]
    with pytest.raises(CommandError, match="folder"):
        make_token("carol", "--scope", "carol")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody"], "no user named 'nobody'"),
        (["carol", "--expires-in", "soon"], "--expires-in: 'soon' is not a duration"),
        (["carol", "--expires-in", "0"], "more than 0"),
    ],
)
def test_bad_arguments_are_refused(carol, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("api_token", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_tokens_of_the_old_authtoken_table_keep_working_and_leave_no_clear_copy(carol):
    old = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamptz NOT NULL, user_id integer NOT NULL)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [old, carol.pk])
    migration = importlib.import_module("access.migrations.0002_hash_drf_tokens")

    with connection.schema_editor() as editor:
        migration.hash_tokens(apps, editor)

    assert me(old).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
        cursor.execute("DROP TABLE authtoken_token")
