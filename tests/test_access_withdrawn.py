"""Access that ends: a deactivated owner or a withdrawn grant stops refresh (links revoked,
`links.revoked` naming the reason), schedule runs and permalinks; refresh_until is capped.

The refresh and schedule cases run on the real worker pools (celery_worker).
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from access.models import KeyGrant
from schedules import tasks as schedule_tasks
from schedules.models import ScheduleRun
from tasks import tasks
from tasks.models import Batch, ShareLink
from tasks.revocation.owners import INACTIVE, UNGRANTED
from tests.auth import api_client_for, grant
from tests.batches import unique_prefix, wait_for_batch, wait_until
from tests.schedules import make_schedule


def deactivate(user):
    user.is_active = False
    user.save(update_fields=["is_active"])


def withdraw(user):
    KeyGrant.objects.filter(user=user).delete()


ENDINGS = [(deactivate, INACTIVE), (withdraw, UNGRANTED)]


@pytest.fixture
def alice(django_user_model):
    user = django_user_model.objects.create_user(f"alice-{unique_prefix('u')[:-1]}")
    return user


def share(alice, put_object, hook_url, **extra):
    prefix = unique_prefix("alice")
    grant(alice, prefix)
    key = put_object(f"{prefix}report.pdf", b"%PDF")
    made = api_client_for(alice).post(
        "/api/batches/",
        {"keys": [key], "expires_in": 600, "refresh": True, "recipients": [{"webhook": hook_url}]},
        format="json",
    )
    assert made.status_code == 201, made.content
    return made.json()


@pytest.mark.s3
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@override_settings(LINKS_PUBLIC_BASE_URL="http://testserver")
@pytest.mark.parametrize(("end", "reason"), ENDINGS, ids=["deactivated", "grant-withdrawn"])
def test_a_refresh_pass_revokes_the_links_of_an_owner_who_lost_access(
    celery_worker, put_object, receiver, alice, client, end, reason
):
    hook = receiver()
    made = share(alice, put_object, hook.url)
    batch = wait_for_batch(made["id"])
    hook.wait_for(1)
    link = ShareLink.objects.get(batch=batch)
    assert client.get(f"/l/{link.token}").status_code == 302

    end(alice)
    assert client.get(f"/l/{link.token}").status_code == 410  # at once, before any pass
    ShareLink.objects.filter(id=link.id).update(refresh_at=timezone.now())  # due now
    tasks.refresh_links.delay()
    received = hook.wait_for(2, timeout=30)

    secret = made["recipients"][0]["secret"]
    events = [Webhook(secret).verify(r.body, r.headers) for r in received]
    assert [event["type"] for event in events] == ["links.issued", "links.revoked"]
    assert events[1]["data"]["reason"] == reason
    assert events[1]["data"]["links"][0]["id"] == link.id
    link.refresh_from_db()
    assert (link.status, link.version) == (ShareLink.Status.REVOKED, 1)  # never re-signed


@pytest.mark.s3
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_refresh_pass_still_refreshes_owners_with_access(celery_worker, put_object, alice):
    made = share(alice, put_object, "https://hooks.example.com/x")
    batch = wait_for_batch(made["id"])
    batch.links.update(refresh_at=timezone.now())
    tasks.refresh_links.delay()
    wait_until(lambda: batch.links.filter(version=2).exists(), timeout=30)
    assert batch.links.get().status == ShareLink.Status.ACTIVE


@pytest.mark.s3
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_refresh_links_says_how_many_links_it_revoked_for_lost_access(
    celery_worker, put_object, alice
):
    made = share(alice, put_object, "https://hooks.example.com/x")
    batch = wait_for_batch(made["id"])
    deactivate(alice)
    batch.links.update(refresh_at=timezone.now())
    out = io.StringIO()

    call_command("refresh_links", stdout=out)

    assert "due 1, refreshed 0" in out.getvalue()
    assert "revoked 1 (owner lost access)" in out.getvalue()
    assert batch.links.get().status == ShareLink.Status.REVOKED


@pytest.mark.s3
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("end", [deactivate, withdraw], ids=["deactivated", "grant-withdrawn"])
def test_a_schedule_run_for_an_owner_who_lost_access_fails_and_makes_no_batch(
    celery_worker, put_object, alice, end
):
    prefix = unique_prefix("sched")
    grant(alice, prefix)
    put_object(f"{prefix}a.txt", b"a")
    since = timezone.now() - timedelta(minutes=2)
    make_schedule("ended", cron="* * * * *", zone="UTC", since=since, prefix=prefix, owner=alice)
    end(alice)

    schedule_tasks.tick.delay()
    run = wait_until(lambda: ScheduleRun.objects.first(), timeout=30)

    assert run.outcome == ScheduleRun.Outcome.FAILED
    assert "access ended" in run.message or "outside your scope" in run.message
    assert not Batch.objects.exists()


@pytest.mark.django_db
def test_a_superusers_and_the_command_lines_permalinks_keep_working(
    django_user_model, client, settings
):
    from tests.refresh_helpers import issue_in_process

    root = django_user_model.objects.create_superuser("root", "r@example.com", "pw")
    cli = issue_in_process(["any/a.txt"], expires_in=600)
    own = issue_in_process(["any/b.txt"], expires_in=600)
    Batch.objects.filter(id=own.id).update(owner=root)

    for batch in (cli, own):
        assert client.get(f"/l/{batch.links.get().token}").status_code == 302


@pytest.mark.django_db
def test_refresh_until_is_capped_by_links_refresh_max_life(alice, settings):
    grant(alice, "alice/")
    api: APIClient = api_client_for(alice)
    body = {"keys": ["alice/a.txt"], "expires_in": 3600, "refresh": True}
    too_far = (
        timezone.now() + timedelta(seconds=settings.LINKS_REFRESH_MAX_LIFE + 3600)
    ).isoformat()

    for until in ("9999-12-31T00:00:00Z", too_far):
        response = api.post("/api/batches/", {**body, "refresh_until": until}, format="json")
        assert response.status_code == 400, response.json()
        assert "LINKS_REFRESH_MAX_LIFE" in response.json()["errors"]["refresh_until"][0]
    assert not Batch.objects.exists()
    near = (timezone.now() + timedelta(days=1)).isoformat()
    assert (
        api.post("/api/batches/", {**body, "refresh_until": near}, format="json").status_code == 201
    )


@pytest.mark.django_db
def test_a_schedules_refresh_for_is_capped_too(alice, settings):
    grant(alice, "alice/")
    spec = {
        "name": "n",
        "cron": "0 8 * * 1",
        "selection": "newest",
        "prefix": "alice/",
        "expires_in": 3600,
        "refresh": True,
        "refresh_for": settings.LINKS_REFRESH_MAX_LIFE + 1,
    }
    response = api_client_for(alice).post("/api/schedules/", spec, format="json")
    assert response.status_code == 400
    assert "LINKS_REFRESH_MAX_LIFE" in response.json()["errors"]["refresh_for"][0]
