"""Admin: schedules (editable, with their run history inline): the cron in words, the next
run, and "run now", enable and disable actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from common.retention_admin import ShowsRetention
from common.retrying import describe
from schedules.models import Schedule, ScheduleRun, cron_of
from schedules.runs import run_now

RUN_FIELDS = ("scheduled_for", "trigger", "started_at", "outcome", "selected", "batch", "message")


class ScheduleRunInline(admin.TabularInline[ScheduleRun, Schedule]):
    model = ScheduleRun
    fields = RUN_FIELDS
    readonly_fields = RUN_FIELDS
    extra = 0
    can_delete = False
    show_change_link = False
    ordering = ["-scheduled_for"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScheduleRun]:
        return super().get_queryset(request).select_related("batch")


class ScheduleForm(forms.ModelForm[Schedule]):
    class Meta:
        model = Schedule
        fields = [
            "name",
            "owner",
            "crontab",
            "prefix",
            "selection",
            "newest_count",
            "expires_in",
            "filename_from_key",
            "refresh",
            "refresh_for",
            "recipients",
            "enabled",
        ]

    def clean_crontab(self) -> Any:
        tab = self.cleaned_data["crontab"]
        try:
            cron_of(tab)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        return tab


def restarts_clock(changed: list[str], schedule: Schedule) -> bool:
    """A new calendar, or switching on again, counts from now: no run for a past time."""
    return "crontab" in changed or ("enabled" in changed and schedule.enabled)


@admin.register(Schedule)
class ScheduleAdmin(ShowsRetention, admin.ModelAdmin[Schedule]):
    retention_kind = "schedule_runs"
    form = ScheduleForm
    list_display = [
        "name",
        "when",
        "next_run",
        "prefix",
        "selection",
        "enabled",
        "last_run_at",
        "last_batch",
        "owner",
    ]
    list_filter = ["enabled", "selection"]
    search_fields = ["name", "^prefix"]
    list_select_related = ["crontab", "owner"]
    autocomplete_fields = ["recipients"]
    readonly_fields = [
        "next_runs",
        "last_run_at",
        "last_batch",
        "seen_until",
        "covered_until",
        "created_at",
    ]
    inlines = [ScheduleRunInline]
    actions = ["run_selected_now", "enable_schedules", "disable_schedules"]

    def save_model(self, request: HttpRequest, obj: Schedule, form: Any, change: bool) -> None:
        if not change or restarts_clock(form.changed_data, obj):
            obj.covered_until = timezone.now()
        super().save_model(request, obj, form, change)

    @admin.display(description="when (cron in words)", ordering="crontab__minute")
    def when(self, schedule: Schedule) -> str:
        return str(schedule.crontab.human_readable)  # with its time zone

    @admin.display(description="next run")
    def next_run(self, schedule: Schedule) -> str:
        if not schedule.enabled:
            return "— (disabled)"
        upcoming = schedule.next_runs(count=1)
        if not upcoming:
            return "—"
        local = upcoming[0].astimezone(schedule.zone)
        return f"{local:%Y-%m-%d %H:%M %Z} ({upcoming[0]:%H:%M} UTC)"

    @admin.action(description="Enable the selected schedules (counting from now)")
    def enable_schedules(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        count = queryset.filter(enabled=False).update(enabled=True, covered_until=timezone.now())
        self.message_user(request, f"{count} enabled; no run for times already past.")

    @admin.action(description="Disable the selected schedules")
    def disable_schedules(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        count = queryset.filter(enabled=True).update(enabled=False)
        self.message_user(request, f"{count} disabled.")

    @admin.display(description="next runs")
    def next_runs(self, schedule: Schedule) -> str:
        """The coming run times in the schedule's zone (crontab(5) rules: see the docs)."""
        if schedule.pk is None:
            return "—"
        shown = [
            f"{moment.astimezone(schedule.zone):%a %Y-%m-%d %H:%M %Z} ({moment:%H:%M} UTC)"
            for moment in schedule.next_runs()
        ]
        return format_html_join(mark_safe("<br>"), "{}", [(line,) for line in shown]) or (
            "— (disabled)" if not schedule.enabled else "—"
        )

    @admin.action(description="Run the selected schedules now")
    def run_selected_now(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        at = timezone.now().replace(second=0, microsecond=0)
        for schedule in queryset:
            try:
                run = run_now(schedule.id, at).run
            except Exception as error:  # the storage did not answer: say so, go on
                self.message_user(request, f"{schedule}: {describe(error)}", messages.ERROR)
                continue
            level = messages.ERROR if run.outcome == ScheduleRun.Outcome.FAILED else messages.INFO
            self.message_user(request, f"{schedule}: {run.outcome} — {run.message}", level)
