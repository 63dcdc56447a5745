"""docker-compose.yml, checked without Docker: it parses, every image is pinned, every service
has a health check or is a one-shot that others wait for, and the app services run exactly
the Procfile's commands."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.procfile import ROOT, procfile

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PROCFILE = procfile()
LONG_RUNNING = [name for name in PROCFILE if name != "release"]


def completed_dependencies() -> set[str]:
    waited: set[str] = set()
    for service in SERVICES.values():
        for name, rule in (service.get("depends_on") or {}).items():
            if rule.get("condition") == "service_completed_successfully":
                waited.add(name)
    return waited


def command_line(service: dict[str, Any]) -> str:
    """The command as the container's shell sees it ($$ is compose's escape for $)."""
    command = service["command"]
    if isinstance(command, list):
        assert command[:2] == ["sh", "-c"], f"a list command must be sh -c: {command}"
        assert len(command) == 3
        return command[2].replace("$$", "$")
    assert "$" not in command, "compose would interpolate $ in a string command: use sh -c"
    return command


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if "image" in s))
def test_every_image_is_pinned_to_a_version(name):
    image = SERVICES[name]["image"]
    repository, _, tag = image.rpartition(":")
    assert repository and "/" not in tag, f"{name}: {image} has no tag"
    assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {image} is not a version"


def test_no_minio_anywhere():
    assert "minio" not in (ROOT / "docker-compose.yml").read_text().lower()


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_health_check_or_is_a_one_shot(name):
    service = SERVICES[name]
    one_shot = service.get("restart") == "no" and name in completed_dependencies()
    assert "healthcheck" in service or one_shot, f"{name}: no health check, not a one-shot"
    if not one_shot:
        assert service.get("restart") in {"unless-stopped", "always", "on-failure"}, name


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_each_procfile_process_is_a_service_running_its_line(name):
    assert name in SERVICES, f"the Procfile's {name} has no compose service"
    assert command_line(SERVICES[name]) == PROCFILE[name]


def test_migrate_runs_the_release_line_once_before_the_rest():
    assert command_line(SERVICES["migrate"]) == PROCFILE["release"]
    for name in LONG_RUNNING:
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name


def test_one_worker_service_per_queue_with_a_ping_on_its_own_queue():
    for queue in ("upkeep", "deliveries", "quarantine", "bulk"):
        check = SERVICES[queue]["healthcheck"]["test"]
        assert check[-3:] == ["healthcheck", "worker", queue]
    assert SERVICES["beat"]["healthcheck"]["test"][-2:] == ["healthcheck", "beat"]
    assert "/healthz" in " ".join(SERVICES["web"]["healthcheck"]["test"])


def test_web_uses_the_gunicorn_config_file():
    assert "--config python:project.gunicorn_conf" in PROCFILE["web"]
    assert (ROOT / "project" / "gunicorn_conf.py").is_file()


def test_dockerignore_keeps_local_settings_and_virtualenvs_out():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".env", ".venv", ".git"):
        assert entry in ignored


def test_the_image_collects_static_files():
    assert "collectstatic --noinput" in (ROOT / "Dockerfile").read_text()
