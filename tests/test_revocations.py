"""Revoking a batch as a task: 202 and a status to poll, chunks under a lock timeout, recipients
told once, a lost worker's revocation picked up by the sweeper."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from tasks.batches import sweeper
from tasks.models import Revocation, ShareLink
from tasks.revocation import revoke as revocation
from tests.auth import api_client_for
from tests.batches import unique_prefix, wait_for_batch
from tests.helpers import wait_until
from tests.refresh_helpers import event_links, issue_in_process

HOOK = {"webhook": "http://127.0.0.1:9/hook"}


def keys(put_object, count, name="revoke"):
    prefix = unique_prefix(name)
    return [put_object(f"{prefix}{n:03d}.txt", b"r") for n in range(count)]


@pytest.mark.s3
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@override_settings(LINKS_REFRESH_CHUNK=4)
def test_revoking_a_batch_answers_202_and_the_worker_finishes_it(
    celery_worker, put_object, receiver, django_user_model
):
    owner = django_user_model.objects.create_user("owner")
    api = api_client_for(owner)
    hook = receiver()
    made = api.post(
        "/api/batches/",
        {"keys": keys(put_object, 10), "expires_in": 600, "recipients": [{"webhook": hook.url}]},
        format="json",
    )
    batch = wait_for_batch(made.json()["id"])
    hook.wait_for(1)

    response = api.post(f"/api/batches/{batch.id}/revoke/")

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] in ("pending", "revoking", "announcing", "done")
    assert response["Location"].endswith(f"/api/revocations/{body['id']}/")
    final = wait_until(
        lambda: (r := api.get(f"/api/revocations/{body['id']}/").json())["status"] == "done" and r,
        timeout=60,
    )
    assert (final["revoked"], final["deliveries"], final["batch"]) == (10, 1, str(batch.id))
    assert set(batch.links.values_list("status", flat=True)) == {"revoked"}
    received = hook.wait_for(2)
    assert b"links.revoked" in received[1].body
    other = api_client_for(django_user_model.objects.create_user("other"))
    assert other.get(f"/api/revocations/{body['id']}/").status_code == 404
    assert other.post(f"/api/batches/{batch.id}/revoke/").status_code == 404


@pytest.mark.s3
@pytest.mark.django_db
def test_a_second_request_while_one_runs_gets_the_same_revocation(put_object, django_user_model):
    owner = django_user_model.objects.create_user("owner")
    api = api_client_for(owner)
    batch = issue_in_process(keys(put_object, 2), expires_in=600)
    batch.owner = owner
    batch.save(update_fields=["owner"])

    first = api.post(f"/api/batches/{batch.id}/revoke/")  # no worker: it stays pending
    second = api.post(f"/api/batches/{batch.id}/revoke/")

    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert Revocation.objects.count() == 1


@pytest.mark.s3
@pytest.mark.django_db(transaction=True)
@override_settings(LINKS_LOCK_TIMEOUT=1, LINKS_REFRESH_CHUNK=2)
def test_a_chunk_waits_at_most_the_lock_timeout_then_the_revocation_resumes(put_object):
    batch = issue_in_process(keys(put_object, 5), expires_in=600, recipients=[HOOK])
    held = batch.links.order_by("id").last()
    taken, release = threading.Event(), threading.Event()

    def hold_a_row() -> None:
        try:
            with transaction.atomic():
                list(ShareLink.objects.select_for_update().filter(id=held.id))
                taken.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=hold_a_row)
    thread.start()
    assert taken.wait(30)
    asked, _ = revocation.revocation_for(batch)
    try:
        with pytest.raises(OperationalError, match="lock timeout"):
            revocation.carry_out(asked.id)
    finally:
        release.set()
        thread.join(30)
    asked.refresh_from_db()
    assert (asked.status, asked.revoked) == ("revoking", 4)  # two chunks went through

    done = revocation.carry_out(asked.id)  # the retry

    assert (done.status, done.revoked, done.deliveries) == ("done", 5, 1)
    assert len(event_links(batch, "links.revoked")) == 5
    assert revocation.carry_out(asked.id).deliveries == 1  # once: a rerun publishes nothing
    assert len(event_links(batch, "links.revoked")) == 5


@pytest.mark.s3
@pytest.mark.django_db
def test_the_sweeper_queues_a_revocation_whose_worker_was_lost(put_object):
    batch = issue_in_process(keys(put_object, 1), expires_in=600)
    asked, _ = revocation.revocation_for(batch)
    Revocation.objects.filter(id=asked.id).update(
        status="revoking", enqueued_at=timezone.now() - timedelta(hours=1)
    )

    resumed = sweeper.resume_stalled(timezone.now(), timedelta(minutes=15))

    assert resumed.revocations == 1
    asked.refresh_from_db()
    assert asked.enqueued_at > timezone.now() - timedelta(minutes=1)
