"""Queues by job: every task is routed to the queue of its job, and the Procfile's worker
lines consume those queues with the pool each job needs."""

from __future__ import annotations

import pytest
from django.conf import settings

from project.celery import app
from tests.services.celery_processes import procfile_command, substitute

UPKEEP = [
    "tasks.refresh_links",
    "tasks.lapse_links",
    "tasks.resume_stalled_batches",
    "notifications.tasks.sweep",
    "schedules.tick",
    "tasks.revoke_links",
]
DELIVERIES = ["notifications.tasks.dispatch"]
BULK = ["tasks.expand_batch", "tasks.sign_chunk", "tasks.hand_over_batch"]


def queue_of(task_name: str) -> str:
    return str(app.amqp.router.route({}, task_name)["queue"].name)


@pytest.mark.parametrize(
    ("names", "queue"),
    [
        (UPKEEP, settings.QUEUE_UPKEEP),
        (DELIVERIES, settings.QUEUE_DELIVERIES),
        (BULK, settings.QUEUE_BULK),
    ],
)
def test_each_task_goes_to_the_queue_of_its_job(names, queue):
    app.loader.import_default_modules()
    assert set(names) <= set(app.tasks)  # the names are the registered tasks' names
    assert {queue_of(name) for name in names} == {queue}


def test_every_registered_project_task_has_a_route():
    app.loader.import_default_modules()
    ours = {name for name in app.tasks if not name.startswith("celery.")}
    assert ours <= set(settings.CELERY_TASK_ROUTES), ours - set(settings.CELERY_TASK_ROUTES)


def test_a_test_run_has_queues_of_its_own():
    prefix = settings.CELERY_QUEUE_PREFIX
    assert prefix.startswith("test-")
    assert f"{prefix}deliveries" == settings.QUEUE_DELIVERIES


@pytest.mark.parametrize(
    ("name", "pool", "concurrency"),
    [
        ("upkeep", "prefork", "3"),
        ("deliveries", "threads", "200"),
        ("quarantine", "threads", "100"),
        ("bulk", "prefork", "2"),
    ],
)
def test_the_procfile_starts_one_pool_per_queue(name, pool, concurrency):
    argv, assigned = procfile_command(name, {"CELERY_QUEUE_PREFIX": "p-"})
    assert argv[argv.index("-Q") + 1] == f"p-{name}"
    assert f"--pool={pool}" in argv
    assert f"--concurrency={concurrency}" in argv
    if name in {"deliveries", "quarantine"}:  # hundreds of threads share a few connections
        assert assigned == {"DJANGO_DB_POOL_SIZE": {"deliveries": "10", "quarantine": "4"}[name]}


def test_procfile_concurrency_comes_from_the_environment():
    argv, _ = procfile_command("deliveries", {"DELIVERIES_CONCURRENCY": "50"})
    assert "--concurrency=50" in argv and "deliveries" in argv


def test_substitution_follows_the_shell():
    env = {"A": "1", "EMPTY": ""}
    assert substitute("${A:-9} ${B:-9} ${EMPTY:-9} $A ${B:-}", env) == "1 9 9 1 "
