"""GET /healthz tells whether the work is being done: services answer, beat beats, a worker
takes heartbeats from each queue, no link or delivery waits too long; 503 names each cause."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from ops import backlog
from tests.health_helpers import (
    beat_and_workers_alive,
    beat_silent_for,
    overdue_refreshing_batch,
    overdue_webhook_delivery,
)

pytestmark = [pytest.mark.s3, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def uncached(settings):
    settings.HEALTH_CACHE_SECONDS = 0
    cache.clear()


def test_healthz_is_200_when_the_work_is_being_done(client, media_bucket):
    beat_and_workers_alive()
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert {"database", "broker", "media_bucket", "beat", "refresh_lag", "delivery_lag"} <= set(
        body["checks"]
    )
    assert all(check["status"] == "ok" for check in body["checks"].values())


def test_healthz_names_the_broker_when_it_is_down(client, media_bucket):
    beat_and_workers_alive()
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:9/0"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]


def test_healthz_names_a_missing_bucket(client, media_bucket):
    beat_and_workers_alive()
    with override_settings(AWS_STORAGE_BUCKET_NAME="no-such-bucket-anywhere"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["media_bucket"]


def test_a_silent_beat_is_named(client, media_bucket, settings):
    beat_and_workers_alive()
    beat_silent_for(settings.HEALTH_MAX_BEAT_AGE + 1)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["beat"]
    assert "heartbeat" in body["checks"]["beat"]["detail"]


def test_a_queue_no_worker_consumes_is_named(client, media_bucket, settings):
    beat_and_workers_alive(seconds_ago=max(settings.HEALTH_QUEUE_MAX_AGE.values()) + 1)
    beat_silent_for(0)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == [f"queue:{q}" for q in settings.HEALTH_QUEUE_MAX_AGE]


def test_links_waiting_too_long_for_refresh_are_links_at_risk(client, media_bucket, settings):
    beat_and_workers_alive()
    overdue_refreshing_batch(timedelta(seconds=settings.HEALTH_MAX_REFRESH_LAG + 60))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["refresh_lag"]
    assert body["checks"]["refresh_lag"]["seconds"] >= settings.HEALTH_MAX_REFRESH_LAG + 60


def test_a_delivery_waiting_too_long_is_named(client, media_bucket, settings):
    beat_and_workers_alive()
    overdue_webhook_delivery(timedelta(seconds=settings.HEALTH_MAX_DELIVERY_LAG + 60))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["delivery_lag"]


def test_the_answer_is_cached_for_a_few_seconds(client, media_bucket, settings):
    settings.HEALTH_CACHE_SECONDS = 60
    beat_and_workers_alive()
    assert client.get("/healthz").status_code == 200
    beat_silent_for(settings.HEALTH_MAX_BEAT_AGE + 1)
    assert client.get("/healthz").status_code == 200  # the cached evaluation
    cache.clear()
    assert client.get("/healthz").status_code == 503


def explain(queryset, seqscan: bool = True) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if not seqscan:
            cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_link_queries_are_index_range_scans():
    """With 3,000 refreshing links and fresh statistics, the planner answers each link query
    from a partial index, reading only the due or expired rows."""
    overdue_refreshing_batch(timedelta(seconds=1), keys=3000)
    backlog.refreshing().update(refresh_at=timezone.now() + timedelta(minutes=30))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_sharelink")
    now = timezone.now()
    oldest = explain(backlog.refresh_queue().values_list("refresh_at")[:1])
    assert oldest.startswith("Limit") and "Index Only Scan using links_due_for_refresh" in oldest
    due = explain(backlog.refreshing().filter(refresh_at__lte=now))
    assert "links_due_for_refresh" in due and "Index Cond: (refresh_at <=" in due
    dead = explain(backlog.dead_awaiting_refresh(now))
    assert "active_links_by_expiry" in dead and "Index Cond: (expires_at <=" in dead


def test_the_delivery_query_matches_its_partial_index():
    """Seq scans off: a tiny table is scanned anyway, but a query that does not match the
    index's predicate could not use it at all."""
    assert "delivery_due_idx" in explain(backlog.delivery_queue()[:1], seqscan=False)
