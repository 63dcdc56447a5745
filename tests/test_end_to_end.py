"""Issue to delivery, end to end: a batch made through the API or the CLI is signed by the
worker process and delivered to a webhook receiver (verified with the secret the caller was
shown once) and by email; every delivered link downloads its object."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from notifications.models import Delivery
from tests.auth import api_token
from tests.batches import unique_prefix, wait_for_batch
from tests.delivery_fixtures import wait_final
from tests.helpers import download, wait_until

pytestmark = [pytest.mark.s3, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def upload(put_object, name: str, count: int = 3) -> dict[str, bytes]:
    prefix = unique_prefix(name)
    bodies = {f"{prefix}report {n}.csv": f"row,{n}\n".encode() * (n + 1) for n in range(count)}
    for key, body in bodies.items():
        put_object(key, body)
    return bodies


def delivered_links(receiver, secret: str) -> list[dict]:
    payloads = [Webhook(secret).verify(r.body, r.headers) for r in receiver.requests]
    assert [p["type"] for p in payloads] == ["links.issued"]
    return payloads[0]["data"]["links"]


def email_links(message) -> list[str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.findall(r"https?://\S+", text)


def test_api_batch_is_delivered_by_webhook_and_email(
    django_user_model, celery_worker, put_object, receiver, smtp_server
):
    bodies = upload(put_object, "e2e-api")
    hook = receiver()
    client = APIClient()
    user = django_user_model.objects.create_user("carol")
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")

    response = client.post(
        "/api/batches/",
        {
            "keys": list(bodies),
            "expires_in": 900,
            "recipients": [{"webhook": hook.url}, {"email": "finance@example.com"}],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    shown = {r["kind"]: r for r in response.json()["recipients"]}
    secret = shown["webhook"]["secret"]
    assert secret.startswith("whsec_") and "secret" not in shown["email"]
    batch = wait_for_batch(response.json()["id"])
    wait_final(
        wait_until(
            lambda: list(Delivery.objects.filter(subject=str(batch.id))) or None, what="deliveries"
        )
    )
    links = delivered_links(hook, secret)
    assert sorted(link["key"] for link in links) == sorted(bodies)
    for link in links:
        assert download(link["url"]).content == bodies[link["key"]]
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "finance@example.com"
    urls = email_links(message)
    assert len(urls) == len(bodies)
    assert sorted(download(url).content for url in urls) == sorted(bodies.values())
    assert "secret" not in client.get(f"/api/batches/{batch.id}/").json()["recipients"][0]


def test_cli_batch_shows_the_secret_once_and_delivers(celery_worker, put_object, receiver):
    bodies = upload(put_object, "e2e-cli", count=2)
    hook = receiver()
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "share_links",
        *[f"--key={key}" for key in bodies],
        "--expires-in=15m",
        f"--to=webhook:{hook.url}",
        "--wait",
        "--format=json",
        stdout=out,
        stderr=err,
    )

    said = out.getvalue() + err.getvalue()
    secret = re.search(r"(whsec_[A-Za-z0-9+/=]+)", said).group(1)
    hook.wait_for(1)
    links = delivered_links(hook, secret)
    assert {link["key"]: download(link["url"]).content for link in links} == bodies
