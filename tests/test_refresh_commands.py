"""refresh_links, revoke_links, the admin revoke actions, and the lapse option of batches."""

from __future__ import annotations

import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tasks.models import Batch, Revocation, ShareLink
from tasks.revocation.revoke import carry_out
from tests.auth import api_token
from tests.batches import unique_prefix
from tests.refresh_helpers import event_links, issue_in_process

pytestmark = [pytest.mark.s3, pytest.mark.django_db]
HOOK = {"webhook": "http://127.0.0.1:9/hook"}


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_refresh_links_dry_run_changes_nothing_then_a_pass_refreshes(put_object):
    key = put_object(f"{unique_prefix('cli')}a.txt", b"a")
    batch = issue_in_process([key], expires_in=2, refresh=True, recipients=[HOOK])
    time.sleep(1.2)

    dry = run("refresh_links", "--dry-run")
    assert "due for refresh: 1" in dry and "dry run" in dry
    assert batch.links.get().url not in dry
    assert batch.links.get().version == 1

    done = run("refresh_links")
    assert "due 1, refreshed 1" in done and "deliveries 1" in done
    assert batch.links.get().version == 2


def test_revoke_links_by_link_and_by_batch(put_object):
    keys = [put_object(f"{unique_prefix('cli')}{n}.txt", b"x") for n in range(3)]
    batch = issue_in_process(keys, expires_in=600, refresh=True, recipients=[HOOK])
    first = batch.links.order_by("key").first()
    assert first is not None

    assert "revoked 1 links (1 links.revoked" in run("revoke_links", "--link", str(first.id))
    assert "revoked 2 links" in run("revoke_links", "--batch", str(batch.id))
    assert set(batch.links.values_list("status", flat=True)) == {"revoked"}
    assert len(event_links(batch, "links.revoked")) == 3


def test_revoke_links_refuses_unknown_ids_and_revokes_nothing(put_object):
    batch = issue_in_process([put_object(f"{unique_prefix('cli')}a", b"a")], expires_in=600)
    link = batch.links.get()
    with pytest.raises(CommandError, match="no link with id 999999"):
        run("revoke_links", "--link", str(link.id), "--link", "999999")
    assert batch.links.get().status == "active"


def test_admin_actions_revoke_links_and_batches(admin_client, put_object):
    keys = [put_object(f"{unique_prefix('admin')}{n}", b"x") for n in range(2)]
    batch = issue_in_process(keys, expires_in=600)
    one = batch.links.order_by("key").first()

    page = admin_client.post(
        "/admin/tasks/sharelink/",
        {"action": "revoke_links", "_selected_action": [one.id]},
        follow=True,
    )
    assert "Revoked 1 links" in page.content.decode()
    queued = admin_client.post(
        "/admin/tasks/batch/",
        {"action": "revoke_batches", "_selected_action": [str(batch.id)]},
        follow=True,
    )
    assert "in the background" in queued.content.decode()
    carry_out(Revocation.objects.get(batch=batch).id)  # what the queued task does
    assert set(batch.links.values_list("status", flat=True)) == {"revoked"}
    detail = admin_client.get(f"/admin/tasks/sharelink/{one.id}/change/").content.decode()
    assert one.token not in detail


def test_batches_api_takes_the_lapse_and_margin_options(django_user_model, put_object):
    key = put_object(f"{unique_prefix('api')}a", b"a")
    api = APIClient()
    user = django_user_model.objects.create_user("u")
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    body = {"keys": [key], "expires_in": 600, "refresh": True, "notify_lapsed": True}

    made = api.post(
        "/api/batches/", {**body, "refresh_margin": 0.5, "refresh_floor": 0}, format="json"
    )
    bad = api.post("/api/batches/", {**body, "refresh_margin": 1.5}, format="json")

    assert made.status_code == 201, made.content
    batch = Batch.objects.get(id=made.json()["id"])
    assert (batch.notify_lapsed, batch.refresh_margin, batch.refresh_floor) == (True, 0.5, 0)
    assert bad.status_code == 400 and "refresh_margin" in bad.json()["errors"]
    assert not ShareLink.objects.filter(batch__owner=user, batch__refresh_margin=1.5).exists()


def test_share_links_takes_notify_lapsed(put_object):
    key = put_object(f"{unique_prefix('cli')}n", b"n")
    call_command(
        "share_links", "--key", key, "--notify-lapsed", stdout=StringIO(), stderr=StringIO()
    )
    assert Batch.objects.get(chunks__keys__contains=[key]).notify_lapsed
