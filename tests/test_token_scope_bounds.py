"""A narrowed token's scope bounds everything it reads, changes or causes to be sent.

Out-of-scope batches, links, exports, revocations and schedules answer 404 like another
user's; recipients and deliveries (not bounded by keys) answer 403 naming the token's scope.
"""

from __future__ import annotations

import pytest

from notifications.models import Recipient
from notifications.outbox import publish_test
from notifications.recipients import recipient_from_spec
from schedules.models import Schedule
from tasks.batches import chunks
from tasks.batches.issuing import create_batch
from tasks.batches.spec import BatchRequest
from tasks.events import handover
from tasks.models import Batch, ShareLink
from tests.auth import api_client_for, grant

SCHEDULE = {"name": "weekly", "cron": "0 8 * * 1", "selection": "newest", "expires_in": 600}


@pytest.fixture
def alice(django_user_model):
    user = django_user_model.objects.create_user("alice")
    grant(user, "finance/")
    return user


@pytest.fixture
def full(alice):
    return api_client_for(alice)


@pytest.fixture
def narrow(alice):
    return api_client_for(alice, prefixes=["finance/q1/"])


def issued(owner, keys):
    batch = create_batch(BatchRequest(keys=keys, expires_in=600), owner=owner).batch
    for chunk_id in batch.chunks.values_list("id", flat=True):
        chunks.sign_chunk(chunk_id)
    handover.hand_over(batch.id)
    batch.refresh_from_db()
    return batch


@pytest.mark.django_db
def test_another_quarters_batch_its_links_and_export_are_404_to_a_narrow_token(alice, full, narrow):
    q2 = issued(alice, ["finance/q2/report.pdf"])
    q1 = issued(alice, ["finance/q1/a.pdf", "finance/q1/b.pdf"])

    for url in (
        f"/api/batches/{q2.id}/",
        f"/api/batches/{q2.id}/links/",
        f"/api/batches/{q2.id}/links/?format=csv",
    ):
        response = narrow.get(url)
        assert response.status_code == 404, url
        assert b"q2/report.pdf" not in response.content
    assert narrow.post(f"/api/batches/{q2.id}/revoke/").status_code == 404
    q2_link = q2.links.get()
    assert narrow.post(f"/api/links/{q2_link.id}/revoke/").status_code == 404
    assert ShareLink.objects.get(id=q2_link.id).status == ShareLink.Status.ACTIVE
    assert [row["id"] for row in narrow.get("/api/batches/").json()["results"]] == [str(q1.id)]
    assert narrow.get(f"/api/batches/{q1.id}/links/").status_code == 200
    assert full.get(f"/api/batches/{q2.id}/links/").status_code == 200  # a full token still sees


@pytest.mark.django_db
def test_a_revocation_of_an_out_of_scope_batch_is_404(alice, full, narrow):
    q2 = issued(alice, ["finance/q2/report.pdf"])
    revocation = full.post(f"/api/batches/{q2.id}/revoke/").json()

    assert narrow.get(f"/api/revocations/{revocation['id']}/").status_code == 404
    assert full.get(f"/api/revocations/{revocation['id']}/").status_code == 200


@pytest.mark.django_db
def test_a_narrow_token_cannot_change_or_read_a_broader_schedule(full, narrow):
    made = full.post("/api/schedules/", {**SCHEDULE, "prefix": "finance/"}, format="json")
    assert made.status_code == 201, made.json()
    url = f"/api/schedules/{made.json()['id']}/"

    change = {"recipients": [{"email": "mallory@example.com"}]}
    assert narrow.patch(url, change, format="json").status_code == 404
    assert narrow.get(url).status_code == 404
    assert narrow.get(f"{url}runs/").status_code == 404
    assert narrow.delete(url).status_code == 404
    assert narrow.get("/api/schedules/").json()["results"] == []
    assert not Schedule.objects.get().recipients.exists()


@pytest.mark.django_db
def test_a_narrow_token_creates_and_changes_schedules_inside_its_scope_only(narrow):
    refused = narrow.post("/api/schedules/", {**SCHEDULE, "prefix": "finance/"}, format="json")
    assert refused.status_code == 403
    assert "'finance/q1/'" in refused.json()["detail"]
    made = narrow.post("/api/schedules/", {**SCHEDULE, "prefix": "finance/q1/"}, format="json")
    assert made.status_code == 201, made.json()
    url = f"/api/schedules/{made.json()['id']}/"
    widen = narrow.patch(url, {"prefix": "finance/"}, format="json")
    assert widen.status_code == 403
    assert Schedule.objects.get().prefix == "finance/q1/"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/recipients/"),
        ("get", "/api/recipients/{recipient}/"),
        ("post", "/api/recipients/"),
        ("patch", "/api/recipients/{recipient}/"),
        ("post", "/api/recipients/{recipient}/rotate-secret/"),
        ("post", "/api/recipients/{recipient}/send-test/"),
        ("post", "/api/recipients/{recipient}/enable/"),
        ("get", "/api/deliveries/"),
        ("get", "/api/deliveries/{delivery}/"),
        ("post", "/api/deliveries/{delivery}/replay/"),
    ],
)
def test_recipients_and_deliveries_are_403_naming_the_scope(alice, narrow, method, path):
    recipient = recipient_from_spec(alice, {"webhook": "https://hooks.example.com/a"}).recipient
    delivery = publish_test(recipient)
    secrets_before = recipient.secrets.count()

    url = path.format(recipient=recipient.id, delivery=delivery.id)
    response = getattr(narrow, method)(url, {"webhook": "https://x.example.com/"}, format="json")

    assert response.status_code == 403
    assert "narrowed to 'finance/q1/'" in response.json()["detail"]
    assert "whsec_" not in response.content.decode()
    assert recipient.secrets.count() == secrets_before
    assert Recipient.objects.count() == 1


@pytest.mark.django_db
def test_a_full_token_and_the_key_root_of_batches(alice, full):
    assert full.get("/api/recipients/").status_code == 200
    keys = issued(alice, ["finance/q1/a.pdf", "finance/q1/ab.pdf"])
    assert keys.key_root == "finance/q1/a"
    assert Batch.objects.get(id=keys.id).key_root.startswith("finance/q1/")


@pytest.mark.django_db
def test_a_narrow_token_names_recipients_by_address_alone(alice, narrow):
    existing = recipient_from_spec(alice, {"webhook": "https://hooks.example.com/a"}).recipient
    change = {"webhook": "https://hooks.example.com/a", "event_types": ["links.revoked"]}
    body = {"keys": ["finance/q1/a.pdf"], "expires_in": 600, "recipients": [change]}

    refused = narrow.post("/api/batches/", body, format="json")
    schedule = {**SCHEDULE, "prefix": "finance/q1/", "recipients": [change]}
    refused_schedule = narrow.post("/api/schedules/", schedule, format="json")

    for response in (refused, refused_schedule):
        assert response.status_code == 403
        assert "recipients[0].event_types" in response.json()["errors"]
    existing.refresh_from_db()
    assert existing.event_types == []
    assert not Batch.objects.exists() and not Schedule.objects.exists()
    by_address = {**body, "recipients": [{"webhook": "https://hooks.example.com/a"}]}
    assert narrow.post("/api/batches/", by_address, format="json").status_code == 201
