"""The operator's view in the admin: batch progress and delivery outcomes (linked to the
deliveries), endpoint health, schedules with the cron in words, the next run and on/off."""

from __future__ import annotations

import pytest
from django.urls import reverse

from notifications.models import Delivery
from schedules.models import Schedule
from tests.refresh_helpers import issue_in_process
from tests.schedules import make_schedule

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_superuser("operator", "op@example.com", "pw")
    client.force_login(user)
    return client


@pytest.mark.s3
def test_batches_show_progress_and_delivery_outcomes_linking_to_them(operator, media_bucket):
    batch = issue_in_process(
        ["a.pdf", "b.pdf"],
        expires_in=600,
        recipients=[{"webhook": "http://127.0.0.1:9/a"}, {"webhook": "http://127.0.0.1:9/b"}],
    )
    first = Delivery.objects.filter(subject=str(batch.id)).first()
    Delivery.objects.filter(id=first.id).update(status=Delivery.Status.DELIVERED)

    page = operator.get(reverse("admin:tasks_batch_changelist")).content.decode()

    assert "100 %" in page
    deliveries = reverse("admin:notifications_delivery_changelist")
    assert f'<a href="{deliveries}?subject={batch.id}">1 delivered, 1 waiting, 0 failed</a>' in page
    listed = operator.get(f"{deliveries}?subject={batch.id}")
    assert listed.status_code == 200
    assert listed.content.decode().count(str(batch.id)) >= 2


def test_schedules_show_the_cron_in_words_and_the_next_run(operator):
    make_schedule("finance-weekly", cron="0 8 * * 1", zone="Europe/Paris", prefix="reports/")
    make_schedule("paused", cron="30 6 * * *", prefix="x/", enabled=False)

    page = operator.get(reverse("admin:schedules_schedule_changelist")).content.decode()

    assert "At 08:00 AM, only on Monday Europe/Paris" in page
    assert "08:00 CET" in page or "08:00 CEST" in page
    assert "— (disabled)" in page


def test_schedules_are_switched_on_and_off_by_actions(operator):
    on = make_schedule("on", prefix="a/")
    off = make_schedule("off", prefix="b/", enabled=False)
    url = reverse("admin:schedules_schedule_changelist")

    operator.post(url, {"action": "disable_schedules", "_selected_action": [on.pk]})
    operator.post(url, {"action": "enable_schedules", "_selected_action": [off.pk]})

    assert not Schedule.objects.get(pk=on.pk).enabled
    switched_on = Schedule.objects.get(pk=off.pk)
    assert switched_on.enabled and switched_on.covered_until > off.covered_until
