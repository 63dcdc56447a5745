"""Prometheus instruments that the apps update where things happen; `/metrics` (ops) serves them.

Counters and histograms only: gauges that describe the database (links by status, the refresh
lag, the delivery backlog) are computed when scraped. With PROMETHEUS_MULTIPROC_DIR set (it
must be set before this module is first imported, i.e. in the environment of every gunicorn,
Celery worker and beat process of one host), each process writes its values to a file there
and `/metrics` adds them up; the directory is created when missing. Present but empty is
unset (common/metricsfiles.py). Files are named by host name and process id, so containers
that share the directory (docker-compose) never write to the same file.
"""

from __future__ import annotations

import os

from common import metricsfiles

_directory = metricsfiles.directory()  # before prometheus_client reads the variable

from prometheus_client import Counter, Histogram, values  # noqa: E402

if _directory:
    os.makedirs(_directory, exist_ok=True)
    values.ValueClass = values.MultiProcessValue(lambda: metricsfiles.identifier(os.getpid()))
else:
    values.ValueClass = values.MutexValue

LINKS_SIGNED = Counter(
    "linkdist_links_signed", "Links signed and stored by batch chunks (its rate: throughput)."
)
LINKS_REFRESHED = Counter("linkdist_links_refreshed", "Links re-signed by refresh passes.")
LINKS_ACCESS_ENDED = Counter(
    "linkdist_links_access_ended",
    "Links revoked by refresh passes because their owner lost access (deactivated, grant gone).",
)
LAPSED_WITHOUT_REFRESH = Counter(
    "linkdist_links_lapsed_without_refresh",
    "Links that expired while still meant to be refreshed (re-signed too late). Should stay 0.",
)
REFRESH_LEASES_LOST = Counter(
    "linkdist_refresh_leases_lost",
    "Re-signed links a refresh pass could not save: their chunk's lease ran out first "
    "(LINKS_REFRESH_LEASE too short for LINKS_REFRESH_CHUNK). Should stay 0.",
)
DELIVERY_TAKEOVERS_LOST = Counter(
    "linkdist_delivery_takeovers_lost",
    "First contacts cut off in deliveries whose claim ran out before quarantine took them over "
    "(the sweeper recovers them as a lost worker's, later). Should stay 0.",
)
DELIVERY_ATTEMPTS = Counter(
    "linkdist_delivery_attempts",
    "Delivery attempts by transport, event and outcome (delivered, transient, permanent).",
    ["transport", "event", "outcome"],
)
DELIVERIES_ENDED = Counter(
    "linkdist_deliveries_ended",
    "Deliveries that reached a final status (delivered, failed), by event.",
    ["event", "status"],
)
ATTEMPT_SECONDS = Histogram(
    "linkdist_delivery_attempt_seconds",
    "Time a delivery attempt took, by transport.",
    ["transport"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)
SCHEDULE_RUNS = Counter(
    "linkdist_schedule_runs",
    "Schedule runs by outcome (batch_created, empty, failed).",
    ["outcome"],
)
RETENTION_PURGED = Counter(
    "linkdist_retention_purged_rows",
    "Rows deleted by the retention purge, by table (and manifests deleted from the bucket).",
    ["table"],
)
RETENTION_FAILURES = Counter(
    "linkdist_retention_failures",
    "Records the retention purge could not remove this run (left for the next), by kind.",
    ["kind"],
)
