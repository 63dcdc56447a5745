"""A webhook URL whose query carries a secret (`?sig=…`) is stored with the secret hidden and
its query encrypted at rest; deliveries still reach the URL as given."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from notifications.models import Recipient
from notifications.outbox import publish_test
from notifications.recipients import recipient_from_spec
from notifications.urlsecrets import split_secret_query
from tests.delivery_fixtures import wait_final

SIG = "Zm9vYmFyLXNpZ25hdHVyZS12YWx1ZQ"


def raw_rows() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT url, url_query FROM notifications_recipient")
        return repr(cursor.fetchall())


@pytest.fixture
def api(django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("ana"))
    return client


@pytest.mark.django_db
def test_the_secret_of_a_webhook_url_is_not_stored_in_clear(api):
    url = f"https://hooks.example.com/in?team=red&sig={SIG}"
    made = api.post("/api/recipients/", {"webhook": url}, format="json")

    assert made.status_code == 201, made.json()
    assert made.json()["address"] == "https://hooks.example.com/in?team=red&sig=…"
    assert SIG not in raw_rows()
    assert SIG not in api.get("/api/recipients/").content.decode()
    assert Recipient.objects.get().target_url == url


@pytest.mark.django_db
def test_the_same_endpoint_with_another_secret_value_is_a_conflict(api):
    first = api.post("/api/recipients/", {"webhook": "https://h.example.com/?sig=one"}, "json")
    same = api.post("/api/recipients/", {"webhook": "https://h.example.com/?sig=one"}, "json")
    other = api.post("/api/recipients/", {"webhook": "https://h.example.com/?sig=two"}, "json")

    assert first.json()["id"] == same.json()["id"]
    assert other.status_code == 409
    assert "two" not in other.content.decode()
    assert Recipient.objects.get().target_url == "https://h.example.com/?sig=one"


def test_urls_without_a_secret_are_kept_as_they_are():
    url = "https://hooks.example.com/in?event=links.issued&team=red"
    assert split_secret_query(url) == (url, "")
    shown, query = split_secret_query("https://h.example.com/p?Token=abc&x=1")
    assert (shown, query) == ("https://h.example.com/p?Token=…&x=1", "Token=abc&x=1")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_delivery_reaches_the_url_with_its_secret_query(celery_worker, receiver):
    hook = receiver()
    recipient = recipient_from_spec(None, {"webhook": f"{hook.url}?sig={SIG}"}).recipient

    [delivery] = wait_final([publish_test(recipient)])

    assert delivery.status == "delivered"
    assert hook.requests[0].path.endswith(f"?sig={SIG}")
    assert SIG not in raw_rows()
