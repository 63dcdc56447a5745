"""Task names are `<app>.<verb>` (`tasks.sign_chunk`, `notifications.dispatch`). A renamed
task stays registered under the names it had before (settings.TASKS_RENAMED: old name ->
new name, routed to the same queue), so a message queued before an upgrade still runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from celery import Task, shared_task
from django.conf import settings

P = ParamSpec("P")
R = TypeVar("R")


def task(name: str, *, ignore_result: bool = False) -> Callable[[Callable[P, R]], Task[P, R]]:
    """shared_task(name=name), also registered under each of its old names."""

    def register(run: Callable[P, R]) -> Task[P, R]:
        for old in old_names(name):
            shared_task(name=old, ignore_result=ignore_result)(run)
        return shared_task(name=name, ignore_result=ignore_result)(run)

    return register


def old_names(name: str) -> list[str]:
    return sorted(old for old, new in settings.TASKS_RENAMED.items() if new == name)
