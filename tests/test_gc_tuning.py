"""Worker processes collect garbage less often and never walk their start-up heap again
(common/gctuning.py): set when a worker and each of its prefork children start."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

from common import gctuning
from tests.procfile import ROOT

STARTED_CHILD = """
import gc
import django
django.setup()
from celery import signals
from project.celery import app
before = gc.get_freeze_count()
signals.worker_process_init.send(sender=app)
print(gc.get_threshold()[0], gc.get_freeze_count() > before)
"""


def started_child(**settings: str) -> tuple[int, bool]:
    """(first threshold, whether the heap was frozen) of a process told it is a worker's child."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    env.pop("WORKER_GC_THRESHOLD", None)
    env.update(settings)
    done = subprocess.run(
        [sys.executable, "-c", STARTED_CHILD], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    threshold, frozen = done.stdout.split()
    return int(threshold), frozen == "True"


def test_a_workers_child_raises_the_threshold_and_freezes_its_heap():
    assert started_child() == (20_000, True)
    assert started_child(WORKER_GC_THRESHOLD="50000") == (50_000, True)


def test_zero_leaves_pythons_defaults():
    assert started_child(WORKER_GC_THRESHOLD="0") == (700, False)


def test_tune_keeps_the_older_generations_thresholds():
    before = gc.get_threshold()
    try:
        gctuning.tune(12_345)
        assert gc.get_threshold() == (12_345, before[1], before[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
