import logging
import os
from typing import Any

from celery import Celery, signals

from common import gctuning, metricsfiles
from common.redact import RedactSecretsFilter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def redact_worker_logs(logger: logging.Logger, **kwargs: Any) -> None:
    """Celery sets up its own log handlers in workers and beat: redact them too."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecretsFilter) for f in handler.filters):
            handler.addFilter(RedactSecretsFilter())


@signals.worker_init.connect
@signals.beat_init.connect
def clear_dead_metric_files(**kwargs: Any) -> None:
    """A worker or beat starts: the metric files of this host's dead processes go."""
    metricsfiles.clear_dead()


@signals.worker_init.connect
@signals.worker_process_init.connect
def tune_garbage_collection(**kwargs: Any) -> None:
    """A worker (and each prefork child once forked) collects garbage less often and never
    walks its start-up heap again (common/gctuning.py)."""
    from django.conf import settings

    gctuning.tune(settings.WORKER_GC_THRESHOLD)


@signals.task_prerun.connect
def drop_unusable_db_connections(**kwargs: Any) -> None:
    """A worker keeps its database connection between tasks (CELERY_DB_REUSE_MAX): before
    each task, one that broke (a restarted server) or outlived CONN_MAX_AGE is closed, and
    the next query opens a new one, as Django does between requests."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()
