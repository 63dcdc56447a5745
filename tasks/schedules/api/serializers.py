"""API shapes for schedules: a 5-field cron expression and a time zone in, history out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.apiinput import refuse_unknown_fields
from tasks.api.serializers import RecipientSummarySerializer, recipient_summaries
from tasks.batchspec import BatchInputError, check_prefix, check_refresh_ttl
from tasks.limits import refresh_limits
from tasks.schedules.models import Schedule, ScheduleRun
from tasks.schedules.occurrences import parse_cron
from tasks.signing.signer import SigningError, check_expires_in

CRON_HELP = (
    "minute hour day-of-month month day-of-week, e.g. '0 8 * * 1', read as in crontab(5): when "
    "both day fields are restricted (neither starts with '*'), a day runs when either matches "
    "('0 8 1 * 1': the 1st and every Monday)."
)


def name_taken(name: str) -> str:
    return f"a schedule of yours named {name!r} exists already"


class ScheduleWriteSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=100, required=False)
    cron = serializers.CharField(required=False, help_text=CRON_HELP)
    timezone = serializers.CharField(required=False, help_text="IANA name, e.g. Europe/Paris")
    prefix = serializers.CharField(required=False, trim_whitespace=False, allow_blank=True)
    selection = serializers.ChoiceField(choices=Schedule.Selection.choices, required=False)
    newest_count = serializers.IntegerField(min_value=1, required=False)
    expires_in = serializers.IntegerField(required=False, help_text="Seconds, 1..604800.")
    filename_from_key = serializers.BooleanField(required=False)
    refresh = serializers.BooleanField(required=False)
    refresh_for = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="Seconds after a run until which its links are refreshed; "
        "null: LINKS_REFRESH_MAX_LIFE.",
    )
    recipients = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text='[{"email": "..."}, {"webhook": "https://...", "secret": "whsec_..."}]',
    )
    enabled = serializers.BooleanField(required=False)

    REQUIRED = ("name", "cron", "prefix", "selection", "expires_in")

    def validate_name(self, name: str) -> str:
        """Unique among the owner's schedules (others' names are neither checked nor told)."""
        owner_id = self.instance.owner_id if self.instance else self.context.get("owner_id")
        taken = Schedule.objects.filter(owner_id=owner_id, name=name)
        if self.instance is not None:
            taken = taken.exclude(id=self.instance.id)
        if taken.exists():
            raise serializers.ValidationError(name_taken(name))
        return name

    def validate_cron(self, expression: str) -> str:
        try:
            parse_cron(expression)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None
        return " ".join(expression.split())

    def validate_timezone(self, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise serializers.ValidationError(f"unknown time zone {name!r}") from None
        return name

    def validate_prefix(self, prefix: str) -> str:
        try:
            return check_prefix(prefix)
        except BatchInputError as error:
            raise serializers.ValidationError(error.message) from None

    def validate_expires_in(self, expires_in: int) -> int:
        try:
            return check_expires_in(expires_in)
        except SigningError as error:
            raise serializers.ValidationError(str(error)) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown_fields(self)
        if self.instance is None:
            missing = [name for name in self.REQUIRED if name not in attrs]
            if missing:
                raise serializers.ValidationError(
                    {name: ["This field is required."] for name in missing}
                )
        self.check_refresh_ttl(attrs)
        if attrs.get("refresh_for") is not None:
            attrs["refresh_for"] = timedelta(seconds=attrs["refresh_for"])
        return attrs

    def check_refresh_ttl(self, attrs: dict[str, Any]) -> None:
        """The runs' batches must pass the minimum TTL of refreshing batches (else every run
        would fail): refused here, naming expires_in."""
        refresh = attrs.get("refresh", getattr(self.instance, "refresh", False))
        expires_in = attrs.get("expires_in", getattr(self.instance, "expires_in", None))
        if not refresh or expires_in is None:
            return
        try:
            check_refresh_ttl(expires_in, refresh_limits(settings))
        except BatchInputError as error:
            raise serializers.ValidationError({error.field: [error.message]}) from None


class ScheduleRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScheduleRun
        fields = [
            "id",
            "scheduled_for",
            "trigger",
            "started_at",
            "outcome",
            "selected",
            "batch",
            "message",
        ]
        read_only_fields = fields


class ScheduleSerializer(serializers.ModelSerializer):
    cron = serializers.CharField(source="cron_expression", help_text=CRON_HELP)
    timezone = serializers.SerializerMethodField()
    refresh_for = serializers.SerializerMethodField()
    recipients = serializers.SerializerMethodField()
    last_runs = serializers.SerializerMethodField()
    next_runs = serializers.ListField(
        child=serializers.DateTimeField(),
        read_only=True,
        help_text="The next five run times, by the cron rule above; empty while disabled.",
    )

    class Meta:
        model = Schedule
        fields = [
            "id",
            "name",
            "cron",
            "timezone",
            "prefix",
            "selection",
            "newest_count",
            "expires_in",
            "filename_from_key",
            "refresh",
            "refresh_for",
            "recipients",
            "enabled",
            "last_run_at",
            "last_batch",
            "created_at",
            "last_runs",
            "next_runs",
        ]
        read_only_fields = fields

    def get_timezone(self, schedule: Schedule) -> str:
        return schedule.zone.key

    def get_refresh_for(self, schedule: Schedule) -> int | None:
        span = schedule.refresh_for
        return None if span is None else int(span.total_seconds())

    @extend_schema_field(RecipientSummarySerializer(many=True))
    def get_recipients(self, schedule: Schedule) -> list[dict[str, Any]]:
        return recipient_summaries(schedule.recipients.all(), self.context.get("secrets", {}))

    @extend_schema_field(ScheduleRunSerializer(many=True))
    def get_last_runs(self, schedule: Schedule) -> list[dict[str, Any]]:
        """The five latest runs; all of them at runs/."""
        rows = schedule.runs.order_by("-scheduled_for")[:5]
        return ScheduleRunSerializer(rows, many=True).data  # type: ignore[return-value]
