"""The safe order for a webhook secret (docs/webhooks.md): the endpoint is added and tested
before a batch names it, so its first `links.issued` is verified by a receiver that already
holds the secret. The owner reads the current secret at GET /api/recipients/{id}/secret/."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook

from demo.receiver import Receiver
from notifications.models import Delivery
from notifications.recipients import recipient_from_spec
from tests.auth import api_client_for
from tests.delivery_fixtures import wait_final
from tests.services.procfile_stack import wait_until

OWN_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="  # 32 bytes, chosen by them


def first_issued() -> list[Delivery]:
    issued = Delivery.objects.filter(event_type="links.issued")
    wait_until(issued.exists, timeout=60, interval=0.2, what="a links.issued delivery")
    return wait_final(issued, timeout=60)


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice")


@pytest.mark.django_db
def test_the_owner_reads_the_current_secret_and_nobody_else_does(alice, django_user_model):
    api = api_client_for(alice)
    added = api.post("/api/recipients/", {"webhook": "https://hooks.example.com/a"}, format="json")
    hook_id, shown_once = added.json()["id"], added.json()["secret"]

    read = api.get(f"/api/recipients/{hook_id}/secret/")
    assert read.status_code == 200, read.content
    assert read.json()["secret"] == shown_once
    assert read["Cache-Control"] == "no-store"  # never kept by a cache on the way
    rotated = api.post(f"/api/recipients/{hook_id}/rotate-secret/", {}, format="json").json()
    assert api.get(f"/api/recipients/{hook_id}/secret/").json()["secret"] == rotated["secret"]

    staff = django_user_model.objects.create_user("staff", is_staff=True)
    assert api_client_for(staff).get(f"/api/recipients/{hook_id}/secret/").status_code == 404
    other = api_client_for(django_user_model.objects.create_user("bob"))
    assert other.get(f"/api/recipients/{hook_id}/secret/").status_code == 404
    mailbox = recipient_from_spec(alice, {"email": "a@example.com"}).recipient
    assert api.get(f"/api/recipients/{mailbox.id}/secret/").status_code == 409


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_added_and_tested_first_the_first_batch_delivery_is_verified_at_once(
    alice, celery_worker, put_object
):
    api = api_client_for(alice)
    with Receiver(verify=True) as hook:  # answers 503 while it has no secret, as advised
        added = api.post("/api/recipients/", {"webhook": hook.url}, format="json")
        assert added.status_code == 201, added.content
        hook_id = added.json()["id"]
        hook.secret = api.get(f"/api/recipients/{hook_id}/secret/").json()["secret"]
        tested = api.post(f"/api/recipients/{hook_id}/send-test/")
        assert tested.status_code == 202
        [test] = wait_final([tested.json()["id"]])
        assert test.status == "delivered"

        put_object("reports/2026/q1.csv", b"q1")
        created = api.post(
            "/api/batches/",
            {"keys": ["reports/2026/q1.csv"], "recipients": [{"webhook": hook.url}]},
            format="json",
        )
        assert created.status_code == 201, created.content
        assert "secret" not in created.json()["recipients"][0]  # nothing new to catch
        [issued] = first_issued()

        assert (issued.status, issued.attempt_count) == ("delivered", 1)
        assert hook.rejected == 0
        [first] = [r for r in hook.requests if b"links.issued" in r.body]
        assert Webhook(hook.secret).verify(first.body, first.headers)["type"] == "links.issued"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_receiver_chosen_secret_signs_the_first_delivery(alice, celery_worker, put_object):
    api = api_client_for(alice)
    with Receiver(verify=True, secret=OWN_SECRET) as hook:
        added = api.post(
            "/api/recipients/", {"webhook": hook.url, "secret": OWN_SECRET}, format="json"
        )
        assert added.status_code == 201, added.content
        put_object("reports/2026/q2.csv", b"q2")
        api.post(
            "/api/batches/",
            {"keys": ["reports/2026/q2.csv"], "recipients": [{"webhook": hook.url}]},
            format="json",
        )
        [issued] = first_issued()

        assert (issued.status, issued.attempt_count) == ("delivered", 1)
        assert hook.rejected == 0
