"""Metric files (item 6 of issue 21): PROMETHEUS_MULTIPROC_DIR present but empty is unset, and
a starting gunicorn or Celery worker clears the files of this host's dead processes."""

from __future__ import annotations

import importlib
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from django.db import connection
from prometheus_client.mmap_dict import MmapedDict

from common import metricsfiles
from tests.procfile import ROOT, procfile
from tests.services.ports import free_port
from tests.services.promtool import check_metrics

pytestmark = [pytest.mark.django_db(transaction=True)]


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def metric_file(path: Path) -> Path:
    """A valid (empty) prometheus_client value file, as a process leaves it."""
    MmapedDict(str(path)).close()
    return path


def environment(directory: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        TEST_DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        PROMETHEUS_MULTIPROC_DIR=directory,
        GUNICORN_HOST="127.0.0.1",
        PORT=str(free_port()),
        WEB_CONCURRENCY="1",
        PYTHONPATH=str(ROOT),
    )
    return env


def web_command() -> list[str]:
    """The Procfile's web line, run by this interpreter's gunicorn."""
    words = shlex.split(procfile()["web"])
    assert words[0] == "gunicorn"
    return [sys.executable, "-m", "gunicorn", *words[1:]]


def scraped(port: str) -> requests.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def run_web(env: dict[str, str], cwd: Path) -> Iterator[requests.Response]:
    process = subprocess.Popen(
        web_command(), env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        yield scraped(env["PORT"])
    finally:
        process.terminate()
        output = process.communicate(timeout=60)[0].decode()
        print(output)


def test_an_empty_variable_writes_no_files_into_the_working_directory(tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for response in run_web(environment(""), cwd):
        assert response.status_code == 200, response.text
        assert "linkdist_links_signed_total" in response.text
    assert list(cwd.iterdir()) == []
    assert not list(ROOT.glob("*.db"))


def test_gunicorn_start_clears_only_the_files_of_dead_processes_of_this_host(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    dead = directory / f"counter_{metricsfiles.identifier(dead_pid())}.db"
    alive = directory / f"counter_{metricsfiles.identifier(os.getpid())}.db"
    elsewhere = directory / f"counter_another-host-{dead_pid()}.db"
    for file in (dead, alive, elsewhere):
        metric_file(file)
    for response in run_web(environment(str(directory)), tmp_path):
        assert response.status_code == 200, response.text
        assert not dead.exists()
        assert alive.exists() and elsewhere.exists()
        if shutil.which("promtool"):  # its absence fails tests/test_monitoring.py under CI
            checked = check_metrics(response.text)  # the multiprocess scrape, linted
            assert checked.returncode == 0, checked.stdout + checked.stderr
        written = {file.name for file in directory.glob("counter_*.db")} - {alive.name}
        assert len(written - {elsewhere.name}) >= 1  # the gunicorn worker's own file


def test_a_celery_worker_start_clears_dead_files(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    dead = directory / f"histogram_{metricsfiles.identifier(dead_pid())}.db"
    metric_file(dead)
    env = environment(str(directory))
    command = [sys.executable, "-m", "celery", "-A", "project", "worker", "-Q", "i21b-none"]
    command += ["--pool=solo", "--without-gossip", "--without-mingle", "-n", "files@%h"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while dead.exists() and time.monotonic() < deadline:
            time.sleep(0.3)
        assert not dead.exists()
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_a_blank_variable_is_removed_and_means_unset(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "  ")
    assert metricsfiles.directory() is None
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_gunicorn_marks_an_exited_worker_dead(tmp_path, monkeypatch):
    """child_exit: prometheus_client's bookkeeping removes the worker's live-gauge files."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    conf = importlib.reload(importlib.import_module("project.gunicorn_conf"))
    pid = dead_pid()
    live = metric_file(tmp_path / f"gauge_livesum_{metricsfiles.identifier(pid)}.db")
    counter = metric_file(tmp_path / f"counter_{metricsfiles.identifier(pid)}.db")

    conf.child_exit(None, SimpleNamespace(pid=pid))

    assert not live.exists()
    assert counter.exists()  # a counter's total must not drop while the master runs
