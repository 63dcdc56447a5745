"""Queues by job: every task is routed to the queue of its job, and the Procfile's worker
lines consume those queues with the pool each job needs."""

from __future__ import annotations

import pytest
from celery import current_app
from django.conf import settings

from notifications.lanes import Lane
from notifications.outbox import publish
from project.celery import app
from tests.delivery_fixtures import wait_final
from tests.services.celery_processes import procfile_command, substitute

UPKEEP = [
    "tasks.refresh_links",
    "tasks.lapse_links",
    "tasks.resume_stalled_batches",
    "notifications.sweep",
    "schedules.tick",
    "tasks.revoke_links",
    "retention.purge_expired_records",
    "ops.heartbeat",
]
DELIVERIES = ["notifications.dispatch"]
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


def test_task_names_are_app_dot_verb():
    app.loader.import_default_modules()
    current = set(app.tasks) - set(settings.TASKS_RENAMED)
    ours = {name for name in current if not name.startswith("celery.")}
    apps = {"tasks", "notifications", "schedules", "retention", "ops"}
    assert {name.split(".")[0] for name in ours} <= apps
    assert all(name.count(".") == 1 for name in ours), ours


def test_an_old_task_name_runs_the_same_code_on_the_same_queue():
    app.loader.import_default_modules()
    for old, new in settings.TASKS_RENAMED.items():
        assert app.tasks[old].run is app.tasks[new].run, old
        assert queue_of(old) == queue_of(new), old
    beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert not beat & set(settings.TASKS_RENAMED)  # beat sends the new names


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_message_queued_under_an_old_name_is_run_by_a_worker(
    celery_worker, endpoint, monkeypatch
):
    """A message queued before the upgrade (by the old name) is still taken and run."""
    monkeypatch.setattr("notifications.outbox.enqueue_lanes", lambda lanes: None)  # no message
    hook = endpoint()
    [delivery] = publish("links.issued", subject="old-name", recipients=[hook.recipient], items=[])
    lane = str(Lane.of(hook.recipient.kind, hook.recipient.id))
    current_app.send_task("notifications.tasks.dispatch", args=(lane,))
    [sent] = wait_final([delivery])
    assert sent.status == "delivered" and len(hook.receiver.requests) == 1


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
