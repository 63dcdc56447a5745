"""Schedule names are unique per owner: two users may both have `finance-weekly`, and the 400
for a taken name speaks only of the caller's own schedules. Next run times in the API and
the admin follow crontab(5)'s day rule."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from schedules.models import Schedule
from tests.auth import api_client_for
from tests.schedules import make_schedule

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
BODY = {
    "name": "finance-weekly",
    "cron": "0 8 1 * 1",
    "timezone": "Europe/Paris",
    "prefix": "reports/finance/",
    "selection": "newest",
    "expires_in": 3600,
}


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(name) for name in ("alice", "bob")]


@pytest.fixture
def alice(users):
    return api_client_for(users[0])


@pytest.fixture
def bob(users):
    return api_client_for(users[1])


def test_two_users_may_use_the_same_name(alice, bob):
    assert alice.post("/api/schedules/", BODY, format="json").status_code == 201
    response = bob.post("/api/schedules/", BODY, format="json")

    assert response.status_code == 201, response.content
    assert Schedule.objects.filter(name="finance-weekly").count() == 2


def test_a_name_taken_by_the_caller_is_refused_naming_only_the_caller(alice, bob):
    alice.post("/api/schedules/", {**BODY, "name": "alices-secret-plan"}, format="json")
    assert bob.post("/api/schedules/", BODY, format="json").status_code == 201

    again = bob.post("/api/schedules/", BODY, format="json")
    renamed = bob.post("/api/schedules/", {**BODY, "name": "other"}, format="json").json()
    clash = bob.patch(f"/api/schedules/{renamed['id']}/", {"name": "finance-weekly"}, format="json")
    free = bob.patch(
        f"/api/schedules/{renamed['id']}/", {"name": "alices-secret-plan"}, format="json"
    )

    assert again.status_code == 409  # a conflict with what exists, not a malformed body
    assert again.json()["errors"] == {
        "name": ["a schedule of yours named 'finance-weekly' exists already"]
    }
    assert clash.status_code == 409 and "exists already" in str(clash.json()["errors"]["name"])
    assert free.status_code == 200  # another user's name is no business of bob's
    assert "alices" not in again.content.decode()


def test_the_database_keeps_names_unique_per_owner_and_among_ownerless(users):
    make_schedule("shared", owner=users[0], prefix="p/")
    make_schedule("shared", owner=users[1], prefix="p/")
    make_schedule("shared", prefix="p/")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_schedule("shared", owner=users[0], prefix="p/")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_schedule("shared", prefix="p/")


def test_run_schedule_asks_for_the_owner_when_a_name_is_shared(users):
    make_schedule("shared", owner=users[0], prefix="a/")
    make_schedule("shared", owner=users[1], prefix="b/")

    with pytest.raises(
        CommandError, match=r"several schedules are named 'shared' \(owners: alice, bob\)"
    ):
        call_command("run_schedule", "shared", "--at", "2026-11-02T08:00+01:00")
    with pytest.raises(CommandError, match="no schedule named 'shared' owned by 'carol'"):
        call_command("run_schedule", "shared", "--owner", "carol")


def test_the_api_shows_the_next_runs_by_the_either_day_rule(alice):
    created = alice.post("/api/schedules/", BODY, format="json").json()

    runs = [datetime.fromisoformat(t) for t in created["next_runs"]]

    assert len(runs) == 5 and runs == sorted(runs)
    for moment in runs:
        local = moment.astimezone(PARIS)
        assert (local.hour, local.minute) == (8, 0)
        assert local.day == 1 or local.weekday() == 0  # the 1st, or a Monday
    assert any(m.astimezone(PARIS).day != 1 for m in runs)  # not only Mondays the 1st
    assert all((b - a).days <= 7 for a, b in pairwise(runs))
    disabled = alice.patch(f"/api/schedules/{created['id']}/", {"enabled": False}, format="json")
    assert disabled.json()["next_runs"] == []


def test_the_schema_documents_the_cron_rule_and_next_runs(alice):
    document = alice.get("/api/schema/", {"format": "json"}).json()
    schedule = document["components"]["schemas"]["Schedule"]["properties"]

    assert "crontab(5)" in schedule["cron"]["description"]
    assert schedule["next_runs"]["readOnly"] is True


def test_the_admin_shows_the_next_runs(admin_client):
    schedule = make_schedule("admin-next", cron="0 8 1 * 1", prefix="p/")

    page = admin_client.get(f"/admin/schedules/schedule/{schedule.id}/change/").content.decode()

    for moment in schedule.next_runs():
        assert f"{moment.astimezone(PARIS):%a %Y-%m-%d %H:%M}" in page
