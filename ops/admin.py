"""The admin shows what operators act on: django-celery-beat's own pages are taken away.

Its Clocked, Crontab, Interval and Solar schedules are rows the project's Schedules and the
beat schedule in settings (CELERY_BEAT_SCHEDULE) make for themselves; its Periodic tasks are
written by beat from settings at every start, so an edit there is either overwritten or
silently changes when refreshes, sweeps and heartbeats run. Operators use Schedules (tasks)
and settings instead (docs/operations.md, "The admin").
"""

from __future__ import annotations

from django.contrib import admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

HIDDEN = (ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule)

for model in HIDDEN:
    if admin.site.is_registered(model):
        admin.site.unregister(model)
