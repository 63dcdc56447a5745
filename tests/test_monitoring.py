"""Dashboards and alerts as files (item 8 of issue 21): ops/monitoring/rules.yml passes
`promtool check rules`, a real /metrics scrape passes `promtool check metrics`, and every
metric the rules and the Grafana dashboard name is in that scrape.

promtool comes from Debian's `prometheus` package (`make monitoring-tools`, run by .ci/run).
Without it these checks are skipped with the reason, except under CI (CI=true): a failure.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml
from django.core.cache import cache
from prometheus_client.parser import text_string_to_metric_families

from tests.procfile import ROOT
from tests.services.promtool import check_metrics, promtool

pytestmark = [pytest.mark.django_db]

MONITORING = ROOT / "ops" / "monitoring"
RULES = MONITORING / "rules.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
NAME = re.compile(r"\blinkdist_[a-z_]+\b")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
}


@pytest.fixture
def scrape(client, settings) -> str:
    settings.METRICS_CACHE_SECONDS = 0
    cache.clear()
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200, response.content
    return response.content.decode()


def exposed(text: str) -> set[str]:
    """Every series name a query may use: families and their samples' suffixed names."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def rule_expressions() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_the_rules_pass_promtool():
    done = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 4 rules found" in done.stdout


def test_a_real_scrape_passes_promtool_check_metrics(scrape):
    done = check_metrics(scrape)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_metric_named_exists_in_a_real_scrape(scrape, source):
    expressions = rule_expressions() if source == "rules" else dashboard_expressions()
    named = {name for expression in expressions for name in NAME.findall(expression)}
    assert len(named) >= 3
    assert named - exposed(scrape) == set()


def test_the_dashboard_covers_every_project_metric(scrape):
    named = {name for expression in dashboard_expressions() for name in NAME.findall(expression)}
    families = {
        f.name
        for f in text_string_to_metric_families(scrape)
        if f.name.startswith("linkdist_") and not f.name.endswith("_created")  # the in-process kind
    }
    missing = {family for family in families if not any(n.startswith(family) for n in named)}
    assert missing == set()


def test_the_alerts_docs_describe_are_the_ones_in_the_rules_file():
    documented = set(
        re.findall(r"`(\w+)` \(alert\)", (ROOT / "docs" / "operations.md").read_text())
    )
    groups = yaml.safe_load(RULES.read_text())["groups"]
    assert documented == {rule["alert"] for group in groups for rule in group["rules"]}
