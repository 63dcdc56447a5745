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
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from notifications.api.serializers import (
    DeliveryDetailSerializer,
    DeliverySerializer,
    RecipientSerializer,
    RecipientSpecSerializer,
)
from notifications.models import Delivery, Recipient
from notifications.recipients import RecipientError, recipient_from_spec
from notifications.replay import ReplayError, replay
from notifications.webhook_secrets import SecretFormatError, rotate_secret


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

    @extend_schema(request=RecipientSpecSerializer, responses={201: RecipientSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
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

    @extend_schema(request=None, responses={200: RecipientSerializer})
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk: str | None = None) -> Response:
        """Enable a disabled endpoint again (its failed deliveries can then be replayed)."""
        recipient = self.get_object()
        Recipient.objects.filter(id=recipient.id).update(
            disabled_at=None, disabled_reason="", failing_since=None
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
