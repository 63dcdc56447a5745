"""Schedules over HTTP: create, read, change, delete, and their run history. Owner's only."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from access.grants import narrowed_q, scope_of_request
from access.permissions import recipients_refusal
from common.apierrors import FieldConflict, FieldForbidden
from common.apischema import error_responses
from idempotency import keys as idempotency
from notifications.models import Recipient
from notifications.recipients import RecipientConflict, RecipientError, recipient_at
from schedules.api.serializers import (
    ScheduleRunSerializer,
    ScheduleSerializer,
    ScheduleWriteSerializer,
    name_taken,
)
from schedules.models import Schedule, crontab_for
from tasks.batches import keyscope


def recipients_from(
    owner: Any, specs: list[dict[str, Any]]
) -> tuple[list[Recipient], dict[int, str]]:
    """The recipients, and the webhook secrets generated for them (shown once)."""
    made: list[Recipient] = []
    secrets: dict[int, str] = {}
    for number, spec in enumerate(specs):
        try:
            new = recipient_at(owner, number, spec)
        except RecipientConflict as error:
            raise FieldConflict(error.field, str(error)) from None
        except RecipientError as error:
            raise ValidationError({error.field: [str(error)]}) from None
        made.append(new.recipient)
        if new.secret:
            secrets[new.recipient.id] = new.secret
    return made, secrets


def in_scope(request: Request, prefix: str) -> None:
    """A schedule shares only a prefix inside the caller's scope (403 naming it)."""
    try:
        keyscope.check_prefix(scope_of_request(request), prefix)
    except keyscope.OutOfScope as error:
        raise FieldForbidden(error.field, error.message) from None


WRITE_ERRORS = error_responses(409)


@extend_schema_view(
    list=extend_schema(
        summary="List your schedules", description="Paged (`page`), with their latest runs."
    ),
    retrieve=extend_schema(
        summary="Read a schedule",
        description="Its calendar, selection rule, recipients and latest runs.",
    ),
    create=extend_schema(
        summary="Create a schedule",
        description="A batch made on a calendar: every time the cron expression matches (in "
        "its time zone), the selection rule picks objects under the prefix and their links "
        "go to the recipients. A generated webhook secret appears once, here. A name you "
        "already use is a 409.",
        request=ScheduleWriteSerializer,
        parameters=[idempotency.PARAMETER],
        responses={201: ScheduleSerializer, **WRITE_ERRORS, **idempotency.RESPONSES},
    ),
    update=extend_schema(
        summary="Replace a schedule",
        description="All required fields again; a new calendar counts from now.",
        request=ScheduleWriteSerializer,
        responses={200: ScheduleSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a schedule",
        description="Only the fields given; a new calendar (cron or time zone) or switching "
        "it back on counts from now. `recipients`, when given, replaces the list.",
        request=ScheduleWriteSerializer,
        responses={200: ScheduleSerializer, **WRITE_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a schedule",
        description="No more runs; batches it made and their links stay.",
    ),
)
class ScheduleViewSet(viewsets.ModelViewSet[Schedule]):
    serializer_class = ScheduleSerializer
    key_scoped = True  # a narrowed token sees the schedules whose prefix lies in its scope

    def get_queryset(self) -> QuerySet[Schedule]:
        return (
            Schedule.objects.filter(
                narrowed_q(self.request, "prefix"), owner_id=self.request.user.pk
            )
            .select_related("crontab")
            .prefetch_related("recipients")
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return idempotency.idempotent(request, "schedules", lambda: self.create_now(request))

    def create_now(self, request: Request) -> Response:
        given = ScheduleWriteSerializer(data=request.data, context={"owner_id": request.user.pk})
        given.is_valid(raise_exception=True)
        schedule = Schedule(owner_id=request.user.pk, covered_until=timezone.now())
        secrets = self.save(schedule, dict(given.validated_data))
        return Response(self.shown(schedule, secrets), status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        schedule = self.get_object()
        partial = kwargs.get("partial", False)
        given = ScheduleWriteSerializer(schedule, data=request.data, partial=partial)
        given.is_valid(raise_exception=True)
        secrets = self.save(schedule, dict(given.validated_data))
        return Response(self.shown(schedule, secrets))

    def save(self, schedule: Schedule, data: dict[str, Any]) -> dict[int, str]:
        if "prefix" in data:
            in_scope(self.request, data["prefix"])
        refusal = recipients_refusal(self.request, data.get("recipients"))
        if refusal:
            raise FieldForbidden(*refusal)
        try:
            return self.write(schedule, data)
        except IntegrityError as error:  # the name, taken meanwhile by a concurrent request
            if "schedule_name_unique" not in str(error):
                raise
            raise FieldConflict("name", name_taken(data["name"])) from None

    @transaction.atomic
    def write(self, schedule: Schedule, data: dict[str, Any]) -> dict[int, str]:
        cron = data.pop("cron", None)
        zone = data.pop("timezone", None)
        specs = data.pop("recipients", None)
        if cron is not None or zone is not None:
            has_one = schedule.crontab_id is not None
            expression = cron or schedule.cron_expression
            tab = crontab_for(expression, zone or (schedule.zone.key if has_one else "UTC"))
            if tab.id != schedule.crontab_id:
                schedule.crontab, schedule.covered_until = tab, timezone.now()
        if data.get("enabled") and not schedule.enabled:  # switched on again: from now
            schedule.covered_until = timezone.now()
        for name, value in data.items():
            setattr(schedule, name, value)
        schedule.save()
        secrets: dict[int, str] = {}
        if specs is not None:
            made, secrets = recipients_from(schedule.owner, specs)
            schedule.recipients.set(made)
        return secrets

    def shown(self, schedule: Schedule, secrets: dict[int, str]) -> dict[str, Any]:
        fresh = self.get_queryset().get(id=schedule.id)
        return ScheduleSerializer(fresh, context={"secrets": secrets}).data

    @extend_schema(responses={200: ScheduleRunSerializer(many=True)})
    @action(detail=True)
    def runs(self, request: Request, pk: str | None = None) -> Response:
        """List a schedule's runs

        Newest first, paged (`page`): when each ran, why (beat or by hand), what it selected,
        the batch it made, or why it made none.
        """
        schedule = self.get_object()
        runs = schedule.runs.select_related("batch").all()
        # The stubs tie paginate_queryset to the view's model; DRF pages any queryset.
        page = self.paginate_queryset(runs)  # type: ignore[arg-type]
        return self.get_paginated_response(ScheduleRunSerializer(page, many=True).data)
