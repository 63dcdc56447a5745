"""Schedules that make batches on a calendar, and the history of their runs."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule

from schedules.occurrences import CRON_FIELDS, Cron, cron_from_fields, next_occurrences
from schedules.selection import Mark
from signing.signer import MAX_EXPIRES_IN, MAX_KEY_BYTES
from tasks.models import Batch

NEXT_RUNS = 5  # run times shown ahead in the API and the admin


def cron_of(tab: CrontabSchedule) -> Cron:
    """The checked cron expression of a crontab row (its fields, in CRON_FIELDS order)."""
    return cron_from_fields(*(str(getattr(tab, name)) for name in CRON_FIELDS))


def crontab_for(expression: str, zone: str) -> CrontabSchedule:
    """The CrontabSchedule row for a checked 5-field expression in a time zone (made if new)."""
    fields = {**dict(zip(CRON_FIELDS, expression.split(), strict=True)), "timezone": zone}
    existing = CrontabSchedule.objects.filter(**fields).first()
    return existing or CrontabSchedule.objects.create(**fields)


class Schedule(models.Model):
    class Selection(models.TextChoices):
        NEWEST = "newest", "the newest N objects"
        NEW = "new_since_last_run", "objects new since the last run"
        ALL = "all", "all objects"

    name = models.SlugField(max_length=100, help_text="Unique among its owner's schedules.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="schedules",
    )
    crontab = models.ForeignKey(
        CrontabSchedule,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="When it runs: cron fields and their time zone, read as in crontab(5): with "
        "both day-of-month and day-of-week restricted, a day runs when either matches.",
    )
    prefix = models.CharField(max_length=MAX_KEY_BYTES)
    selection = models.CharField(max_length=24, choices=Selection.choices)
    newest_count = models.PositiveIntegerField(
        default=10, help_text="How many objects the 'newest' rule shares."
    )
    expires_in = models.PositiveIntegerField(help_text="Seconds each link lives.")
    filename_from_key = models.BooleanField(default=False)
    refresh = models.BooleanField(default=False, help_text="Re-sign links before they lapse.")
    refresh_for = models.DurationField(
        null=True, blank=True, help_text="Refresh until this long after the run; empty: no end."
    )
    recipients = models.ManyToManyField(
        "notifications.Recipient", blank=True, related_name="schedules"
    )
    enabled = models.BooleanField(default=True)
    covered_until = models.DateTimeField(
        default=timezone.now,
        help_text="Occurrences up to this instant are done with.",
    )
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # High-water mark of the "new since the last run" rule.
    seen_until = models.DateTimeField(null=True, blank=True)
    seen_keys = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="schedule_expires_in_range",
                condition=models.Q(expires_in__gte=1, expires_in__lte=MAX_EXPIRES_IN),
            ),
            models.CheckConstraint(name="schedule_has_prefix", condition=~models.Q(prefix="")),
            models.CheckConstraint(
                name="schedule_newest_count_positive", condition=models.Q(newest_count__gte=1)
            ),
            models.UniqueConstraint(
                fields=["owner", "name"],
                condition=models.Q(owner__isnull=False),
                name="schedule_name_unique_per_owner",
            ),
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(owner__isnull=True),
                name="schedule_name_unique_without_owner",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def cron(self) -> Cron:
        return cron_of(self.crontab)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(str(self.crontab.timezone))

    @property
    def cron_expression(self) -> str:
        tab = self.crontab
        return " ".join(
            (tab.minute, tab.hour, tab.day_of_month, tab.month_of_year, tab.day_of_week)
        )

    @property
    def mark(self) -> Mark:
        return Mark(self.seen_until, frozenset(self.seen_keys))

    def next_runs(self, now: datetime | None = None, count: int = NEXT_RUNS) -> list[datetime]:
        """The coming run times (UTC); none while the schedule is disabled."""
        if not self.enabled:
            return []
        return next_occurrences(self.cron, self.zone, now or timezone.now(), count)

    def refresh_until(self, run_time: datetime) -> datetime | None:
        if not self.refresh or self.refresh_for is None:
            return None
        return run_time + self.refresh_for


class ScheduleRun(models.Model):
    """One run of a schedule for one scheduled time: at most one, whoever asks how often."""

    class Outcome(models.TextChoices):
        BATCH_CREATED = "batch_created", "batch created"
        EMPTY = "empty", "nothing to send"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        BEAT = "beat"
        MANUAL = "manual"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="runs")
    scheduled_for = models.DateTimeField()
    trigger = models.CharField(max_length=8, choices=Trigger.choices, default=Trigger.BEAT)
    started_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="schedule_runs"
    )
    selected = models.PositiveIntegerField(default=0, help_text="Objects the rule chose.")
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-scheduled_for"]
        indexes = [models.Index(fields=["scheduled_for"], name="schedule_runs_by_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "scheduled_for"], name="one_run_per_scheduled_time"
            )
        ]

    def __str__(self) -> str:
        return f"{self.schedule} @ {self.scheduled_for:%Y-%m-%d %H:%M} UTC: {self.outcome}"
