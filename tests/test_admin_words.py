"""The admin in words (item 7 of issue 21), through the admin's pages as a superuser: the
endpoints list says how each endpoint is doing, a delivery's lease cannot be edited, and
django-celery-beat's own pages are gone."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from notifications.health_words import when
from notifications.models import Delivery, MessageBody, Recipient

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_superuser("operator", "op@example.com", "pw")
    client.force_login(user)
    return client


def endpoint(name: str, **state) -> Recipient:
    return Recipient.objects.create(kind="webhook", url=f"https://{name}.example/hook", **state)


def row_of(page: str, marker: str) -> str:
    """The changelist's table row that mentions `marker`."""
    start = page.rindex("<tr", 0, page.index(marker))
    return page[start : page.index("</tr>", start)]


def test_the_endpoints_list_says_healthy_failing_or_paused(operator):
    now = timezone.now()
    since, until = now - timedelta(minutes=7), now + timedelta(minutes=5)
    endpoint("fine")
    endpoint("flaky", failing_since=since, consecutive_failures=3)
    endpoint("down", failing_since=since, consecutive_failures=5, breaker_open_until=until)

    page = operator.get(reverse("admin:notifications_recipient_changelist")).content.decode()

    assert "healthy" in row_of(page, "fine.example")
    assert f"failing since {when(since)} (3 in a row)" in row_of(page, "flaky.example")
    assert f"paused until {when(until)} (5 in a row)" in row_of(page, "down.example")
    assert "closed" not in row_of(page, "flaky.example")


def test_the_health_column_comes_before_the_wide_ones(operator):
    endpoint("fine")
    page = operator.get(reverse("admin:notifications_recipient_changelist")).content.decode()
    columns = re.findall(r'<th scope="col" class="[^"]*column-([\w_]+)', page)
    assert columns.index("health") < columns.index("address_")
    assert len(columns) <= 7  # a checkbox and six columns: visible at normal widths


def test_a_delivery_lease_is_shown_but_cannot_be_changed(operator):
    lease = timezone.now() + timedelta(minutes=2)
    delivery = Delivery.objects.create(
        recipient=endpoint("lease"),
        event_type="links.issued",
        subject="batch-1",
        body=MessageBody.objects.create(text="{}"),
        status=Delivery.Status.SENDING,
        lease_until=lease,
    )
    url = reverse("admin:notifications_delivery_change", args=[delivery.id])

    page = operator.get(url).content.decode()
    assert 'name="lease_until' not in page and 'name="_save"' not in page
    assert "Lease until" in page or "lease until" in page

    later = lease + timedelta(hours=5)
    answer = operator.post(url, {"lease_until_0": later.date(), "lease_until_1": "12:00:00"})
    assert answer.status_code == 403
    delivery.refresh_from_db()
    assert delivery.lease_until == lease


@pytest.mark.parametrize(
    "model", ["clockedschedule", "crontabschedule", "intervalschedule", "solarschedule"]
)
def test_celery_beat_schedules_are_not_in_the_admin(operator, model):
    with pytest.raises(NoReverseMatch):
        reverse(f"admin:django_celery_beat_{model}_changelist")
    assert operator.get(f"/admin/django_celery_beat/{model}/").status_code == 404


def test_periodic_tasks_are_not_in_the_admin_but_schedules_are(operator):
    index = operator.get(reverse("admin:index")).content.decode()
    assert "Periodic tasks" not in index and "Crontabs" not in index
    assert reverse("admin:schedules_schedule_changelist") in index
    assert operator.get("/admin/django_celery_beat/periodictask/").status_code == 404
