"""Input that used to answer 500: text that is not Unicode, a body nested 100,000 deep."""

from __future__ import annotations

import json

import pytest

from notifications.models import Recipient
from schedules.models import Schedule
from tests.auth import api_client_for, grant


@pytest.fixture
def alice(django_user_model):
    user = django_user_model.objects.create_user("alice")
    grant(user, "alice/")
    return user


def post_raw(client, url, text, method="post"):
    return getattr(client, method)(url, text, content_type="application/json")


@pytest.mark.django_db
def test_a_schedule_timezone_that_is_not_unicode_is_a_400_naming_it(alice):
    client = api_client_for(alice)
    spec = {"name": "n", "cron": "0 8 * * 1", "prefix": "alice/", "expires_in": 600}
    made = client.post("/api/schedules/", {**spec, "selection": "newest"}, format="json")
    assert made.status_code == 201, made.json()
    url = f"/api/schedules/{made.json()['id']}/"

    response = post_raw(client, url, '{"timezone": "Europe/\\ud800"}', method="patch")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["timezone"]
    assert Schedule.objects.get().zone.key == "UTC"


@pytest.mark.django_db
def test_recipient_event_types_that_are_not_unicode_are_a_400_naming_them(alice):
    text = '{"webhook": "https://hooks.example.com/a", "event_types": ["\\ud800"]}'
    response = post_raw(api_client_for(alice), "/api/recipients/", text)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["event_types"]
    assert not Recipient.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [100_000, 65])
def test_a_body_nested_too_deep_is_a_400_naming_the_body(alice, depth):
    text = '{"keys": ' + "[" * depth + "]" * depth + "}"
    response = post_raw(api_client_for(alice), "/api/batches/", text)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error"
    assert "nested more than 64 levels" in body["detail"]


@pytest.mark.django_db
def test_ordinary_unicode_still_passes(alice):
    text = json.dumps({"keys": ["alice/café.txt"], "expires_in": 60}, ensure_ascii=True)
    assert post_raw(api_client_for(alice), "/api/batches/", text).status_code == 201
