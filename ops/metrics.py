"""GET /metrics: Prometheus text format, for a bearer token or an allowed network.

Counters and histograms come from every process (common.metrics; added up from
PROMETHEUS_MULTIPROC_DIR when set); gauges of the database are computed at scrape time.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

import common.metrics  # noqa: F401  (the instruments exist in this process too)
from common import metricsfiles
from common.clientaddr import via_unknown_proxy
from common.ratelimit import client_address, trusted_proxies
from ops import snapshot


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        snap = snapshot.cached()
        links = GaugeMetricFamily("linkdist_links", "Links by status.", labels=["status"])
        for status, count in sorted(snap.links_by_status.items()):
            links.add_metric([status], count)
        yield links
        yield gauge("linkdist_links_due_for_refresh", "Active links due now.", snap.due_now)
        yield gauge(
            "linkdist_refresh_lag_seconds",
            "How long the oldest due link has waited for its refresh.",
            snap.refresh_lag,
        )
        yield gauge(
            "linkdist_links_expired_awaiting_refresh",
            "Active links already expired though still meant to be refreshed (dead links).",
            snap.expired_awaiting_refresh,
        )
        yield gauge(
            "linkdist_refresh_projected_seconds",
            "Seconds the refresh pools need, at their measured rate, for the links due now or "
            "within the shortest margin in force (the projected refresh backlog).",
            snap.refresh_projected,
        )
        yield gauge(
            "linkdist_refresh_capacity_links_per_second",
            "Links per second the refresh pools re-sign: one pass's measured rate (else "
            "LINKS_REFRESH_RATE) times LINKS_REFRESH_PARALLEL.",
            snap.refresh_rate,
        )
        backlog = GaugeMetricFamily(
            "linkdist_deliveries_unfinished",
            "Deliveries pending or sending, by status and event.",
            labels=["status", "event"],
        )
        for (status, event), count in sorted(snap.delivery_backlog.items()):
            backlog.add_metric([status, event], count)
        yield backlog
        yield gauge(
            "linkdist_delivery_lag_seconds",
            "How long the oldest due delivery has waited.",
            snap.delivery_lag,
        )
        endpoints = GaugeMetricFamily(
            "linkdist_webhook_endpoints", "Webhook endpoints by state.", labels=["state"]
        )
        for state, count in sorted(snap.endpoints.items()):
            endpoints.add_metric([state], count)
        yield endpoints
        beats = GaugeMetricFamily(
            "linkdist_heartbeat_age_seconds",
            "Seconds since beat sent a heartbeat (beat) or a worker took one (queue:<name>).",
            labels=["source"],
        )
        for source, seconds in sorted(snap.heartbeat_ages.items()):
            beats.add_metric([source], seconds)
        yield beats
        yield from table_gauges(snap.tables)


def table_gauges(tables: dict[str, tuple[int, int]]) -> Iterator[Metric]:
    rows = GaugeMetricFamily(
        "linkdist_table_rows",
        "Rows kept per table that retention bounds (the planner's estimate).",
        labels=["table"],
    )
    size = GaugeMetricFamily(
        "linkdist_table_bytes", "Bytes per table, indexes and TOAST included.", labels=["table"]
    )
    for table, (count, total) in sorted(tables.items()):
        rows.add_metric([table], count)
        size.add_metric([table], total)
    yield rows
    yield size


class ThisProcess(Collector):
    """Without a multiprocess directory: the instruments of this process only."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def scrape() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if metricsfiles.directory():
        MultiProcessCollector(registry)
    else:
        registry.register(ThisProcess())
    registry.register(DatabaseCollector())
    return generate_latest(registry)


def allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    if via_unknown_proxy(request.META, trusted_proxies()):
        return False  # the address is a proxy's nobody named, not the scraper's
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.METRICS_ALLOWED_NETWORKS
    )


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return HttpResponse(
            "metrics need `Authorization: Bearer <METRICS_TOKEN>` or an address in "
            "METRICS_ALLOWED_NETWORKS\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
