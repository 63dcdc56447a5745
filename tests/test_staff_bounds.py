"""Staff who are not superusers are bound by their own grants, and see only their own
recipients and deliveries through the API; superusers see all (docs/security.md)."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from notifications.models import Delivery, Recipient
from notifications.outbox import publish_test
from notifications.recipients import recipient_from_spec
from tests.auth import grant

WHITENOISE = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


@pytest.fixture
def carol(django_user_model):
    user = django_user_model.objects.create_user("carol", password="pw", is_staff=True)
    grant(user, "carol/")
    return user


@pytest.fixture
def dave(django_user_model):
    user = django_user_model.objects.create_user("dave")
    grant(user, "dave/")
    return user


def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_staff_sign_only_under_their_own_grants_on_the_object_page(client, carol):
    page = logged_in(client, carol)

    refused = page.get("/staff/object-links/", {"key": "dave/payroll.pdf"})
    allowed = page.get("/staff/object-links/", {"key": "carol/notes.txt"})

    assert refused.status_code == 200
    assert "outside your scope" in refused.content.decode()
    assert "X-Amz-Signature" not in refused.content.decode()
    assert "media_url" not in refused.context
    assert "X-Amz-Signature" in allowed.context["media_url"]


@pytest.mark.django_db
def test_a_superuser_signs_any_key_but_the_reserved_prefix(admin_client):
    response = admin_client.get("/staff/object-links/", {"key": "dave/payroll.pdf"})
    assert "X-Amz-Signature" in response.context["media_url"]


@pytest.mark.django_db
@override_settings(STORAGES=WHITENOISE)
def test_a_non_static_key_with_whitenoise_is_a_page_not_a_500(client, carol):
    response = logged_in(client, carol).get("/staff/object-links/", {"key": "carol/a.txt"})

    assert response.status_code == 200
    assert "X-Amz-Signature" in response.context["media_url"]
    assert response.context["static_url"] is None
    assert 'id="static-url"' not in response.content.decode()


@pytest.fixture
def daves_endpoint(dave):
    return recipient_from_spec(dave, {"webhook": "https://hooks.example.com/dave"}).recipient


@pytest.fixture
def staff_api(carol):
    api = APIClient()
    api.force_authenticate(carol)
    return api


@pytest.mark.django_db
def test_staff_cannot_read_another_users_recipients_or_deliveries(staff_api, daves_endpoint):
    delivery = publish_test(daves_endpoint)

    assert staff_api.get("/api/recipients/").json()["results"] == []
    assert staff_api.get(f"/api/recipients/{daves_endpoint.id}/").status_code == 404
    assert staff_api.get("/api/deliveries/").json()["results"] == []
    assert staff_api.get(f"/api/deliveries/{delivery.id}/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("post", "rotate-secret/", {}),
        ("post", "send-test/", None),
        ("post", "enable/", None),
        ("patch", "", {"event_types": ["links.issued"]}),
    ],
)
def test_staff_cannot_act_on_another_users_endpoint(
    staff_api, daves_endpoint, method, action, body
):
    before = list(daves_endpoint.secrets.values_list("id", flat=True))
    url = f"/api/recipients/{daves_endpoint.id}/{action}"

    response = getattr(staff_api, method)(url, body, format="json")

    assert response.status_code == 404
    assert "whsec_" not in response.content.decode()
    assert list(daves_endpoint.secrets.values_list("id", flat=True)) == before
    assert not Delivery.objects.filter(recipient=daves_endpoint).exists()
    assert Recipient.objects.get(id=daves_endpoint.id).event_types == daves_endpoint.event_types


@pytest.mark.django_db
def test_staff_cannot_replay_another_users_delivery(staff_api, daves_endpoint):
    delivery = publish_test(daves_endpoint)
    response = staff_api.post(f"/api/deliveries/{delivery.id}/replay/", format="json")
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_superuser_still_sees_every_recipient(admin_user, daves_endpoint):
    api = APIClient()
    api.force_authenticate(admin_user)
    assert api.get(f"/api/recipients/{daves_endpoint.id}/").status_code == 200
