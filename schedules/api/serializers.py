"""API shapes for schedules: a 5-field cron expression and a time zone in, history out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.apierrors import FieldConflict
from common.strict import StrictSerializer
from notifications.api.specs import MAX_RECIPIENTS, RecipientSpecField, time_zone_field
from schedules.models import Schedule, ScheduleRun
from schedules.occurrences import parse_cron
from signing.signer import MAX_KEY_BYTES, SigningError, check_expires_in
from tasks.api.serializers import (
    EMPTY_PREFIX,
    RecipientSummarySerializer,
    expires_in_field,
    recipient_summaries,
)
from tasks.batches.limits import refresh_limits
from tasks.batches.spec import BatchInputError, check_prefix, check_refresh_ttl

CRON_HELP = (
    "minute hour day-of-month month day-of-week, e.g. '0 8 * * 1', read as in crontab(5): when "
    "both day fields are restricted (neither starts with '*'), a day runs when either matches "
    "('0 8 1 * 1': the 1st and every Monday)."
)


def name_taken(name: str) -> str:
    return f"a schedule of yours named {name!r} exists already"


def _cron_field(number: str, items: int) -> str:
    item = rf"(?:\*(?:/{STEP})?|{number}(?:-{number}(?:/{STEP})?)?)"
    return rf"{item}(?:,{item}){{0,{items - 1}}}"


STEP = "[1-9][0-9]?"
# Numbers, ranges (wrapping: 22-2), steps and lists per field, as crontab(5) writes them; the
# item counts keep each field within what the crontab table stores.
CRON = (
    "^"
    + " ".join(
        (
            _cron_field("[0-5]?[0-9]", 20),
            _cron_field("(?:[01]?[0-9]|2[0-3])", 10),
            _cron_field("(?:0?[1-9]|[12][0-9]|3[01])", 13),
            _cron_field("(?:0?[1-9]|1[0-2])", 7),
            _cron_field("[0-6]", 9),
        )
    )
    + "$"
)
MAX_NEWEST = 1_000_000


def refresh_for_field() -> serializers.IntegerField:
    """At most LINKS_REFRESH_MAX_LIFE, read when a serializer is made (the schema says it)."""
    cap = settings.LINKS_REFRESH_MAX_LIFE
    return serializers.IntegerField(
        min_value=1,
        max_value=cap,
        required=False,
        allow_null=True,
        error_messages={"max_value": f"at most LINKS_REFRESH_MAX_LIFE ({cap} s)"},
        help_text="Seconds after a run until which its links are refreshed (at most "
        "LINKS_REFRESH_MAX_LIFE); null: LINKS_REFRESH_MAX_LIFE.",
    )


class CronValidator(RegexValidator):
    """crontab(5)'s own message first (5 fields, values in range), then the documented form."""

    def __call__(self, value: Any) -> None:
        try:
            parse_cron(str(value))
        except ValueError as error:
            raise DjangoValidationError(str(error)) from None
        super().__call__(value)


class ScheduleWriteSerializer(StrictSerializer[Schedule]):
    """A schedule as a caller writes it (POST and PUT: all required fields; PATCH: any)."""

    name = serializers.SlugField(
        max_length=100,
        help_text="Your name for it, unique among your schedules (letters, digits, - and _).",
    )
    cron = serializers.CharField(
        max_length=512,
        trim_whitespace=False,
        validators=[CronValidator(CRON, "use numbers, *, a-b, /n and lists in each field")],
        help_text=CRON_HELP + " Each field: numbers, `*`, ranges `a-b`, steps `/n`, lists; "
        "Sunday is 0.",
    )
    timezone = time_zone_field(
        required=False, help_text="IANA time zone the cron expression is read in; default UTC."
    )
    prefix = serializers.CharField(
        trim_whitespace=False,
        max_length=MAX_KEY_BYTES,
        error_messages={"blank": EMPTY_PREFIX},
        help_text="The objects a run chooses from: keys starting with this.",
    )
    selection = serializers.ChoiceField(
        choices=Schedule.Selection.choices,
        help_text="`newest`: the `newest_count` newest objects; `new_since_last_run`: those "
        "newer than the last run's; `all`: every object under the prefix.",
    )
    newest_count = serializers.IntegerField(
        min_value=1,
        max_value=MAX_NEWEST,
        required=False,
        help_text="How many objects `newest` shares; default 10.",
    )
    expires_in = expires_in_field(
        help_text='Seconds each link lives, 1..604800 (7 days), or a duration such as "7d".'
    )
    filename_from_key = serializers.BooleanField(
        required=False, help_text="Downloads are named after the last part of the key."
    )
    refresh = serializers.BooleanField(
        required=False, help_text="Keep each run's links alive (re-signed before they lapse)."
    )
    refresh_for = refresh_for_field()
    recipients = serializers.ListField(
        child=RecipientSpecField(),
        required=False,
        max_length=MAX_RECIPIENTS,
        help_text="Where each run's links are delivered.",
    )
    enabled = serializers.BooleanField(
        required=False, help_text="Runs on its calendar when on; default on."
    )

    def validate_name(self, name: str) -> str:
        """Unique among the owner's schedules (others' names are neither checked nor told)."""
        owner_id = self.instance.owner_id if self.instance else self.context.get("owner_id")
        taken = Schedule.objects.filter(owner_id=owner_id, name=name)
        if self.instance is not None:
            taken = taken.exclude(id=self.instance.id)
        if taken.exists():
            raise FieldConflict("name", name_taken(name))
        return name

    def validate_cron(self, expression: str) -> str:
        try:
            parse_cron(expression)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None
        return " ".join(expression.split())

    def validate_prefix(self, prefix: str) -> str:
        try:
            return check_prefix(prefix)
        except BatchInputError as error:
            raise serializers.ValidationError(error.message) from None

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["refresh_for"] = refresh_for_field()  # the cap of now, not of the import
        return fields

    def validate_expires_in(self, expires_in: int) -> int:
        try:
            return check_expires_in(expires_in)
        except SigningError as error:
            raise serializers.ValidationError(str(error)) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
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


class ScheduleRunSerializer(serializers.ModelSerializer[ScheduleRun]):
    field_help: ClassVar[dict[str, str]] = {
        "id": "The run's id.",
        "scheduled_for": "The calendar time it ran for.",
        "started_at": "When it actually started.",
        "batch": "The batch it made; null when it made none.",
        "message": "Why it made no batch, or what went wrong.",
    }

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


class ScheduleSerializer(serializers.ModelSerializer[Schedule]):
    field_help: ClassVar[dict[str, str]] = {
        "id": "The schedule's id.",
        "timezone": "The IANA time zone the cron expression is read in.",
        "prefix": "The objects a run chooses from: keys starting with this.",
        "filename_from_key": "Downloads are named after the last part of the key.",
        "refresh_for": "Seconds after a run until which its links are refreshed; null: no end.",
        "recipients": "Where each run's links are delivered.",
        "enabled": "Runs on its calendar when on.",
        "last_run_at": "When it last ran; null if never.",
        "last_batch": "The batch its last run made.",
        "created_at": "When it was created.",
        "last_runs": "The five latest runs, newest first; all of them at runs/.",
    }
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
