"""GET /metrics: Prometheus text for a token or an allowed network; gauges of the database
computed when scraped; counters updated where things happen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tasks.models import ShareLink
from tests.health_helpers import beat_and_workers_alive, overdue_refreshing_batch

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def uncached(settings):
    settings.METRICS_CACHE_SECONDS = 0
    settings.METRICS_TOKEN = "scrape-token-for-tests"
    settings.METRICS_ALLOWED_NETWORKS = ["192.0.2.0/24"]
    cache.clear()


def samples(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-for-tests"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_need_the_token_or_an_allowed_network(client):
    assert client.get("/metrics").status_code == 403
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-it"})
    assert wrong.status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    token = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-for-tests"})
    assert token.status_code == 200


@pytest.mark.s3
def test_link_gauges_come_from_the_database(client, media_bucket):
    overdue_refreshing_batch(timedelta(minutes=10), keys=2)
    found = samples(client)
    assert found[("linkdist_links", (("status", "active"),))] == 2
    assert found[("linkdist_links", (("status", "revoked"),))] == 0
    assert found[("linkdist_links_due_for_refresh", ())] == 2
    assert found[("linkdist_refresh_lag_seconds", ())] >= 600
    assert found[("linkdist_links_expired_awaiting_refresh", ())] == 0


@pytest.mark.s3
def test_dead_links_awaiting_refresh_are_counted(client, media_bucket):
    batch = overdue_refreshing_batch(timedelta(minutes=10), keys=3)
    ShareLink.objects.filter(batch=batch).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert samples(client)[("linkdist_links_expired_awaiting_refresh", ())] == 3


def test_heartbeat_ages_are_exported(client):
    beat_and_workers_alive(seconds_ago=30)
    found = samples(client)
    assert 29 <= found[("linkdist_heartbeat_age_seconds", (("source", "beat"),))] < 60


def counted(name: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name) or 0.0


@pytest.mark.s3
def test_signing_counts_the_links_it_stores(media_bucket):
    before = counted("linkdist_links_signed_total")
    overdue_refreshing_batch(timedelta(seconds=1), keys=3)
    assert counted("linkdist_links_signed_total") == before + 3


@pytest.mark.s3
def test_a_link_refreshed_after_it_expired_counts_as_lapsed_without_refresh(media_bucket, settings):
    from tasks.refresh.refresher import run_pass

    settings.LINKS_REFRESH_CHECK_EXISTS = False
    on_time = overdue_refreshing_batch(timedelta(seconds=1), keys=2)
    late = overdue_refreshing_batch(timedelta(minutes=10), keys=1)
    ShareLink.objects.filter(batch=late).update(expires_at=timezone.now() - timedelta(minutes=1))
    refreshed = counted("linkdist_links_refreshed_total")
    lapsed = counted("linkdist_links_lapsed_without_refresh_total")

    report = run_pass()

    assert report.refreshed == 3 and on_time.links.filter(version=2).count() == 2
    assert counted("linkdist_links_refreshed_total") == refreshed + 3
    assert counted("linkdist_links_lapsed_without_refresh_total") == lapsed + 1


@pytest.mark.s3
def test_endpoints_failing_disabled_and_with_an_open_breaker(client, media_bucket):
    from notifications.models import Recipient
    from tests.health_helpers import overdue_webhook_delivery

    overdue_webhook_delivery(timedelta(seconds=1))
    now = timezone.now()
    Recipient.objects.filter(kind="webhook").update(
        failing_since=now, breaker_open_until=now + timedelta(minutes=5)
    )
    found = samples(client)
    assert found[("linkdist_webhook_endpoints", (("state", "breaker_open"),))] == 1
    assert found[("linkdist_webhook_endpoints", (("state", "failing"),))] == 1
    assert found[("linkdist_webhook_endpoints", (("state", "disabled"),))] == 0
