"""HTTP API for recipients and deliveries: read state and attempts, replay, rotate, enable.

A user sees and acts on the recipients they own (and their deliveries); staff see all.
Secrets are shown once, in the response that creates them, and masked everywhere else.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from common.apischema import error_responses
from common.idempotency import keys as idempotency
from notifications.api.serializers import (
    DeliveryDetailSerializer,
    DeliverySerializer,
    RecipientChangeSerializer,
    RecipientSerializer,
    RecipientSpecSerializer,
)
from notifications.breaker import CLOSED
from notifications.models import Delivery, Recipient
from notifications.outbox import PublishError, publish_test
from notifications.recipients import RecipientError, check_event_types, recipient_from_spec
from notifications.replay import ReplayError, replay
from notifications.webhook_secrets import SecretFormatError, rotate_secret


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "the object is not in a state that allows this"
    default_code = "conflict"


def _spec_error(error: RecipientError | SecretFormatError, field: str) -> ValidationError:
    return ValidationError({getattr(error, "field", field): [str(error)]})


class RecipientViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = RecipientSerializer

    def get_queryset(self) -> QuerySet[Recipient]:
        rows = Recipient.objects.prefetch_related("secrets").order_by("-created_at")
        user = self.request.user
        return rows if user.is_staff else rows.filter(owner_id=user.pk)

    @extend_schema(
        request=RecipientSpecSerializer,
        parameters=[idempotency.PARAMETER],
        responses={201: RecipientSerializer, **idempotency.RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return idempotency.idempotent(request, "recipients", lambda: self.create_now(request))

    def create_now(self, request: Request) -> Response:
        data = request.data
        spec = data.dict() if hasattr(data, "dict") else data  # form posts: a QueryDict
        try:
            new = recipient_from_spec(request.user, spec)
        except RecipientError as error:
            raise _spec_error(error, "recipient") from None
        body = dict(RecipientSerializer(new.recipient).data)
        if new.secret:
            body["secret"] = new.secret  # shown once, now
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=inline_serializer(
            "RotateSecret",
            {
                "secret": serializers.CharField(required=False),
                "grace_seconds": serializers.IntegerField(required=False, min_value=0),
            },
        ),
        responses={200: inline_serializer("NewSecret", {"secret": serializers.CharField()})},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        """Add a new signing secret; the current ones stay valid for the grace period."""
        recipient = self.get_object()
        if recipient.kind != Recipient.Kind.WEBHOOK:
            raise ValidationError({"kind": ["only webhook endpoints have secrets"]})
        grace = request.data.get("grace_seconds")
        if grace is not None and (not isinstance(grace, int) or grace < 0):
            raise ValidationError({"grace_seconds": ["a whole number of seconds, 0 or more"]})
        try:
            secret = rotate_secret(
                recipient,
                request.data.get("secret"),
                timedelta(seconds=grace) if grace is not None else None,
            )
        except SecretFormatError as error:
            raise _spec_error(error, "secret") from None
        return Response({"secret": secret})

    @extend_schema(request=RecipientChangeSerializer, responses={200: RecipientSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change what the endpoint subscribes to (`event_types`; null: every event type)."""
        recipient = self.get_object()
        given = RecipientChangeSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        unknown = sorted(set(request.data) - set(given.fields))
        if unknown:
            raise ValidationError({name: ["unknown field; only event_types"] for name in unknown})
        try:
            recipient.event_types = check_event_types(given.validated_data["event_types"])
        except RecipientError as error:
            raise _spec_error(error, "event_types") from None
        recipient.save(update_fields=["event_types"])
        return Response(RecipientSerializer(recipient).data)

    @extend_schema(
        request=None,
        responses={202: DeliverySerializer, **error_responses(409)},
    )
    @action(detail=True, methods=["post"], url_path="send-test")
    def send_test(self, request: Request, pk: str | None = None) -> Response:
        """Send the endpoint a signed `test` event now.

        It goes through the outbox and the webhook transport like any event (whatever the
        endpoint subscribes to); follow the returned delivery and its attempts at
        /api/deliveries/{id}/. 400 for an email recipient, 409 while the endpoint is disabled.
        """
        recipient = self.get_object()
        if recipient.kind != Recipient.Kind.WEBHOOK:
            raise ValidationError({"kind": ["only webhook endpoints take a test event"]})
        try:
            delivery = publish_test(recipient)
        except PublishError as error:
            raise Conflict(str(error)) from None
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: RecipientSerializer})
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk: str | None = None) -> Response:
        """Enable a disabled endpoint again (its failed deliveries can then be replayed)."""
        recipient = self.get_object()
        Recipient.objects.filter(id=recipient.id).update(
            disabled_at=None, disabled_reason="", failing_since=None, **CLOSED
        )
        recipient.refresh_from_db()
        return Response(RecipientSerializer(recipient).data)


class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    FILTERS = ("status", "subject", "event_type", "recipient")

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=list(Delivery.Status.values)),
            OpenApiParameter("subject", str, description="what the event is about (a batch id)"),
            OpenApiParameter("event_type", str),
            OpenApiParameter("recipient", int),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def get_serializer_class(self) -> type[DeliverySerializer]:
        return DeliveryDetailSerializer if self.action == "retrieve" else DeliverySerializer

    def get_queryset(self) -> QuerySet[Delivery]:
        rows = Delivery.objects.select_related("recipient")
        if self.action == "retrieve":
            rows = rows.prefetch_related("attempts")
        user = self.request.user
        if not user.is_staff:
            rows = rows.filter(recipient__owner_id=user.pk)
        params = self.request.query_params
        wanted = {name: params[name] for name in self.FILTERS if name in params}
        if not str(wanted.get("recipient", "0")).isdigit():
            raise ValidationError({"recipient": ["a recipient id"]})
        return rows.filter(**wanted).order_by("-created_at", "part")

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str | None = None) -> Response:
        """Send the delivery again, with the same webhook-id."""
        delivery = self.get_object()
        try:
            delivery = replay(delivery.id)
        except ReplayError as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
