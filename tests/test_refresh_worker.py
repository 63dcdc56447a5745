"""Refresh through the real path: a worker process, a beat process, a webhook receiver."""

from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import datetime

import pytest
from django.db import connections
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from tasks import tasks
from tasks.batches.issuing import create_batch
from tasks.batches.spec import BatchRequest
from tasks.models import ShareLink
from tasks.refresh import refresher
from tasks.refresh.refresher import PassReport
from tests.auth import api_token
from tests.batches import unique_prefix, wait_for_batch, wait_until
from tests.helpers import download
from tests.refresh_helpers import event_links, issue_in_process
from tests.services.celery_processes import BeatProcess, WorkerProcess

pytestmark = [pytest.mark.s3, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_receiver_gets_issued_then_refreshed_before_the_first_url_expires(
    celery_worker, put_object, receiver, test_database_url
):
    key = put_object(f"{unique_prefix('alive')}report.csv", b"month,total\n11,42\n")
    hook = receiver()
    beat = BeatProcess(
        test_database_url, {"LINKS_REFRESH_INTERVAL": "1", "LINKS_LAPSE_INTERVAL": "1"}
    ).start()
    try:
        created = create_batch(
            BatchRequest(keys=[key], expires_in=8, refresh=True, recipients=[{"webhook": hook.url}])
        )
        received = hook.wait_for(2, timeout=30)
    finally:
        beat.stop()

    secret = created.secrets[0][1]
    events = [Webhook(secret).verify(r.body, r.headers) for r in received[:2]]
    assert [event["type"] for event in events] == ["links.issued", "links.refreshed"]
    first, fresh = (event["data"]["links"][0] for event in events)
    assert received[1].at < datetime.fromisoformat(first["expires_at"]).timestamp()
    assert fresh["id"] == first["id"] and fresh["url"] != first["url"]

    wait_until(lambda: download(first["url"]).status_code == 403, timeout=20, interval=0.25)
    response = download(fresh["url"])
    assert response.status_code == 200
    assert response.content == b"month,total\n11,42\n"


def test_two_passes_at_the_same_moment_refresh_each_link_once(celery_worker, put_object, receiver):
    prefix = unique_prefix("twice")
    keys = [put_object(f"{prefix}{n:03d}.txt", b"x") for n in range(40)]
    hook = receiver()
    batch = create_batch(
        BatchRequest(keys=keys, expires_in=4, refresh=True, recipients=[{"webhook": hook.url}])
    ).batch
    batch = wait_for_batch(batch.id)
    wait_until(
        lambda: ShareLink.objects.filter(batch=batch, refresh_at__lte=timezone.now()).count() == 40,
        timeout=10,
    )

    reports: list[PassReport] = []
    start = threading.Barrier(2)

    def one_pass() -> None:
        try:
            start.wait()
            reports.append(refresher.run_pass())
        finally:
            connections.close_all()

    with override_settings(LINKS_REFRESH_CHUNK=7, LINKS_REFRESH_CHECK_EXISTS=False):
        threads = [threading.Thread(target=one_pass) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    assert sum(report.refreshed for report in reports) == 40
    assert all(report.refreshed for report in reports), "both passes took a share"
    assert set(ShareLink.objects.filter(batch=batch).values_list("version", flat=True)) == {2}
    refreshed = event_links(batch, "links.refreshed")
    assert sorted(item["id"] for item in refreshed) == sorted(
        ShareLink.objects.filter(batch=batch).values_list("id", flat=True)
    )


@override_settings(LINKS_PUBLIC_BASE_URL="http://testserver")
def test_revoke_over_the_api_tells_the_receiver_and_stops_the_permalink(
    celery_worker, put_object, receiver, django_user_model, client
):
    key = put_object(f"{unique_prefix('revoke')}secret.pdf", b"%PDF")
    hook = receiver()
    owner = django_user_model.objects.create_user("owner")
    other = django_user_model.objects.create_user("other")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(owner)}")
    made = api.post(
        "/api/batches/",
        {"keys": [key], "expires_in": 600, "refresh": True, "recipients": [{"webhook": hook.url}]},
        format="json",
    )
    assert made.status_code == 201, made.content
    secret = made.json()["recipients"][0]["secret"]
    batch = wait_for_batch(made.json()["id"])
    link = ShareLink.objects.get(batch=batch)
    hook.wait_for(1)
    assert client.get(f"/l/{link.token}").status_code == 302

    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION=f"Token {api_token(other)}")
    assert stranger.post(f"/api/links/{link.id}/revoke/").status_code == 404
    response = api.post(f"/api/links/{link.id}/revoke/")

    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert response.json()["permalink"] == f"http://testserver/l/{link.token}"
    received = hook.wait_for(2)
    events = [Webhook(secret).verify(r.body, r.headers) for r in received]
    assert [event["type"] for event in events] == ["links.issued", "links.revoked"]
    assert events[1]["data"]["links"][0]["id"] == link.id
    assert client.get(f"/l/{link.token}").status_code == 410
    assert not ShareLink.objects.filter(id=link.id, refresh_at__isnull=False).exists()
    again = api.post(f"/api/batches/{batch.id}/revoke/")
    assert again.status_code == 202
    done = wait_until(
        lambda: (r := api.get(again["Location"]).json())["status"] == "done" and r, timeout=30
    )
    assert (done["revoked"], done["deliveries"]) == (0, 0)
    time.sleep(0.5)
    assert len(hook.requests) == 2


def test_many_due_links_are_shared_by_parallel_passes_and_refreshed_once(test_database_url):
    """A worker whose pass finds several chunks due starts a helper pass; each link once."""
    prefix = f"fan-{uuid.uuid4().hex[:8]}-"
    queue = f"{prefix}upkeep"
    worker = WorkerProcess(
        test_database_url,
        queue,
        extra_env={
            "CELERY_QUEUE_PREFIX": prefix,
            "LINKS_REFRESH_CHUNK": "5",
            "LINKS_REFRESH_PARALLEL": "2",
            "LINKS_REFRESH_CHECK_EXISTS": "false",
        },
    ).start()
    try:
        keys = [f"{unique_prefix('fan')}{n:03d}.txt" for n in range(60)]
        batch = issue_in_process(keys, expires_in=600, refresh=True)
        batch.links.update(refresh_at=timezone.now())
        tasks.refresh_links.apply_async(queue=queue)

        wait_until(lambda: not batch.links.filter(version=1).exists(), timeout=60)
        # each pass logs how many links it took once it has finished
        passes = wait_until(lambda: passes_in(worker.log(), 60), timeout=30)
    finally:
        worker.stop()
    assert sorted(batch.links.values_list("version", flat=True)) == [2] * 60
    assert len(passes) >= 2  # the links were shared between passes, none taken twice


def passes_in(log: str, total: int) -> list[int] | None:
    """The links each finished refresh pass took, once they add up to `total`."""
    taken = [int(n) for n in re.findall(r"refresh_links\[.*\] succeeded .*'due': (\d+)", log)]
    return taken if sum(taken) == total else None
