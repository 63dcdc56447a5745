"""The schedules API and admin: create, change, history, errors that name the field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from notifications.models import Recipient
from schedules import runs
from schedules.models import Schedule, ScheduleRun
from tests.auth import api_token
from tests.batches import unique_prefix

pytestmark = pytest.mark.django_db

GOOD = {
    "name": "finance-weekly",
    "cron": "0 8 * * 1",
    "timezone": "Europe/Paris",
    "prefix": "reports/finance/",
    "selection": "newest",
    "newest_count": 1,
    "expires_in": 86400,
    "refresh": True,
    "refresh_for": 7 * 86400,
    "recipients": [{"email": "finance@example.com"}, {"webhook": "http://127.0.0.1:9/hook"}],
}


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


@pytest.fixture
def alice(django_user_model) -> APIClient:
    return client_for(django_user_model.objects.create_user("alice"))


@pytest.fixture
def bob(django_user_model) -> APIClient:
    return client_for(django_user_model.objects.create_user("bob"))


def test_create_a_schedule_with_cron_timezone_and_recipients(alice, bob):
    response = alice.post("/api/schedules/", GOOD, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["cron"], body["timezone"], body["refresh_for"]) == (
        "0 8 * * 1",
        "Europe/Paris",
        604800,
    )
    hook = next(r for r in body["recipients"] if r["kind"] == "webhook")
    assert hook["secret"].startswith("whsec_")  # generated, shown once
    schedule = Schedule.objects.get(name="finance-weekly")
    assert str(schedule.crontab.timezone) == "Europe/Paris"
    assert schedule.owner.username == "alice"
    assert schedule.refresh_for == timedelta(days=7)
    assert "secret" not in str(alice.get(f"/api/schedules/{body['id']}/").json()["recipients"])
    assert bob.get(f"/api/schedules/{body['id']}/").status_code == 404
    assert bob.get("/api/schedules/").json()["results"] == []


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"cron": "0 8 * *"}, "cron", "a cron expression has 5 fields"),
        ({"cron": "0 25 * * *"}, "cron", "bad cron expression"),
        ({"timezone": "Europe/Atlantis"}, "timezone", "unknown time zone"),
        ({"prefix": ""}, "prefix", "the prefix is empty"),
        ({"expires_in": 604801}, "expires_in", "between 1 and 604800"),
        ({"selection": "oldest"}, "selection", "not a valid choice"),
        ({"newest_count": 0}, "newest_count", "greater than or equal to 1"),
        ({"recipients": [{"email": "nope"}]}, "recipients[0].email", "not a valid email"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(alice, change, field, text):
    response = alice.post("/api/schedules/", {**GOOD, **change}, format="json")

    assert response.status_code == 400
    assert text in str(response.json()["errors"][field])
    assert not Schedule.objects.exists()
    assert not Recipient.objects.exists()


def test_a_name_is_taken_once_and_required_fields_are_named(alice):
    assert alice.post("/api/schedules/", GOOD, format="json").status_code == 201
    again = alice.post("/api/schedules/", GOOD, format="json")
    assert "exists already" in str(again.json()["errors"]["name"])
    missing = alice.post("/api/schedules/", {"name": "x"}, format="json").json()["errors"]
    assert set(missing) == {"cron", "prefix", "selection", "expires_in"}


def test_changing_the_calendar_counts_from_now_and_keeps_the_other_fields(alice):
    created = alice.post("/api/schedules/", GOOD, format="json").json()
    schedule = Schedule.objects.get()
    Schedule.objects.filter(id=schedule.id).update(
        covered_until=timezone.now() - timedelta(days=30)
    )

    response = alice.patch(
        f"/api/schedules/{created['id']}/", {"cron": "30 7 1 * *"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert (response.json()["cron"], response.json()["timezone"]) == ("30 7 1 * *", "Europe/Paris")
    schedule.refresh_from_db()
    assert timezone.now() - schedule.covered_until < timedelta(seconds=5)
    assert schedule.recipients.count() == 2  # not given: unchanged


@pytest.mark.s3
def test_the_run_history_shows_empty_runs(alice, media_bucket):
    body = {**GOOD, "prefix": unique_prefix("hist"), "recipients": []}
    created = alice.post("/api/schedules/", body, format="json").json()
    runs.run_now(runs.find_schedule("finance-weekly").id, timezone.now())

    history = alice.get(f"/api/schedules/{created['id']}/runs/").json()["results"]
    detail = alice.get(f"/api/schedules/{created['id']}/").json()

    assert [(r["outcome"], r["batch"], r["trigger"]) for r in history] == [
        ("empty", None, "manual")
    ]
    assert "nothing was sent" in history[0]["message"]
    assert detail["last_runs"] == history and detail["last_run_at"] is not None


@pytest.mark.s3
def test_the_admin_shows_the_history_and_runs_a_schedule_now(admin_client, put_object):
    from tests.schedules import make_schedule

    prefix = unique_prefix("admin")
    put_object(f"{prefix}a.csv", b"a")
    schedule = make_schedule("admin-run", prefix=prefix)

    response = admin_client.post(
        "/admin/schedules/schedule/",
        {"action": "run_selected_now", "_selected_action": [schedule.id]},
        follow=True,
    )

    shown = [str(message) for message in response.context["messages"]]
    assert shown == [f"admin-run: batch_created — 1 object under {prefix!r}"]
    run = ScheduleRun.objects.get()
    page = admin_client.get(f"/admin/schedules/schedule/{schedule.id}/change/").content.decode()
    assert str(run.batch_id) in page and "batch created" in page
