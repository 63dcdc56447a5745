"""`manage.py healthcheck`: the compose health checks of the worker pools and of beat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from tests.health_helpers import beat_and_workers_alive, beat_silent_for


@pytest.mark.worker
@pytest.mark.parametrize("role", ["upkeep", "deliveries", "quarantine", "bulk"])
def test_a_pool_answers_for_its_own_queue(celery_worker, role, capsys):
    call_command("healthcheck", "worker", role, "--any-host", "--timeout", "5")
    assert f"{role}: a worker answers" in capsys.readouterr().out


@pytest.mark.worker
def test_a_queue_no_pool_consumes_fails_naming_it(celery_worker, settings):
    settings.QUEUE_BULK = "nobody-consumes-this-queue"
    with pytest.raises(CommandError, match="nobody-consumes-this-queue"):
        call_command("healthcheck", "worker", "bulk", "--any-host", "--timeout", "2")


@pytest.mark.django_db
def test_beat_passes_with_a_fresh_heartbeat_and_fails_without(settings):
    beat_and_workers_alive()
    call_command("healthcheck", "beat")
    beat_silent_for(settings.HEALTH_MAX_BEAT_AGE + timedelta(seconds=5).total_seconds())
    with pytest.raises(CommandError, match="heartbeat"):
        call_command("healthcheck", "beat")
