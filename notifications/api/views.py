"""HTTP API for recipients and deliveries: read state and attempts, replay, rotate, enable.

A user sees and acts on the recipients they own (and their deliveries); staff too (they
are bound like any user); only superusers see and act on all.
Secrets are shown in the response that creates them and masked everywhere else, but for
GET /api/recipients/{id}/secret/: the owner reads the current secret there (docs/webhooks.md).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from common.apierrors import FieldConflict, StateConflict
from common.apischema import error_responses
from idempotency import keys as idempotency
from notifications.api.serializers import (
    CurrentSecretSerializer,
    DeliveryDetailSerializer,
    DeliveryFilterSerializer,
    DeliverySerializer,
    RecipientChangeSerializer,
    RecipientSerializer,
    RotateSecretSerializer,
)
from notifications.api.specs import RecipientSpecSerializer, check_spec
from notifications.breaker import CLOSED
from notifications.models import Delivery, Recipient
from notifications.outbox import PublishError, publish_test
from notifications.recipients import (
    RecipientConflict,
    RecipientError,
    check_event_types,
    recipient_from_spec,
)
from notifications.replay import ReplayError, replay
from notifications.webhook_secrets import SecretFormatError, current_secret, rotate_secret


def _spec_error(error: RecipientError | SecretFormatError, field: str) -> ValidationError:
    return ValidationError({getattr(error, "field", field): [str(error)]})


@extend_schema_view(
    list=extend_schema(
        summary="List your recipients",
        description="Email addresses and webhook endpoints, newest first, paged (`page`); "
        "secrets masked.",
    ),
    retrieve=extend_schema(
        summary="Read a recipient",
        description="Its address, state (disabled, failing since), subscribed event types "
        "and masked secrets.",
    ),
)
class RecipientViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Recipient],
):
    serializer_class = RecipientSerializer

    def get_queryset(self) -> QuerySet[Recipient]:
        rows = Recipient.objects.prefetch_related("secrets").order_by("-created_at")
        user = self.request.user
        return rows if user.is_superuser else rows.filter(owner_id=user.pk)

    @extend_schema(
        summary="Add a recipient",
        description="An email address or a webhook endpoint. The same address again is the "
        "same recipient (updated, enabled again). A webhook's generated secret appears once, "
        "here; another secret for an endpoint that has one is a 409 (rotate it instead).",
        request=RecipientSpecSerializer,
        parameters=[idempotency.PARAMETER],
        responses={201: RecipientSerializer, **error_responses(409), **idempotency.RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return idempotency.idempotent(request, "recipients", lambda: self.create_now(request))

    def create_now(self, request: Request) -> Response:
        try:
            spec = check_spec(request.data)
        except ValidationError as error:
            detail = error.detail
            shown = detail if isinstance(detail, dict) else {"recipient": detail}
            raise ValidationError(shown) from None
        try:
            new = recipient_from_spec(request.user, spec)
        except RecipientConflict as error:
            raise FieldConflict(error.field, str(error)) from None
        except RecipientError as error:
            raise _spec_error(error, "recipient") from None
        body = dict(RecipientSerializer(new.recipient).data)
        if new.secret:
            body["secret"] = new.secret  # shown once, now
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=RotateSecretSerializer,
        responses={
            200: inline_serializer(
                "NewSecret",
                {"secret": serializers.CharField(help_text="The new secret, shown this once.")},
            ),
            **error_responses(409),
        },
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        """Rotate a webhook endpoint's secret

        Adds a new signing secret; the current ones stay valid for the grace period, so
        deliveries carry one signature per valid secret meanwhile. An email recipient has no
        secret: 409.
        """
        recipient = self.get_object()
        given = RotateSecretSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        if recipient.kind != Recipient.Kind.WEBHOOK:
            raise StateConflict("only webhook endpoints have secrets")
        grace = given.validated_data.get("grace_seconds")
        try:
            secret = rotate_secret(
                recipient,
                given.validated_data.get("secret"),
                timedelta(seconds=grace) if grace is not None else None,
            )
        except SecretFormatError as error:
            raise _spec_error(error, "secret") from None
        return Response({"secret": secret})

    @extend_schema(request=RecipientChangeSerializer, responses={200: RecipientSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change a recipient's subscriptions

        `event_types`: the event types it receives from now on; null: every event type.
        Nothing else can be changed here.
        """
        recipient = self.get_object()
        given = RecipientChangeSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        unknown = sorted(set(request.data) - set(given.fields))
        if unknown:
            raise ValidationError({name: ["unknown field; only event_types"] for name in unknown})
        if "event_types" in given.validated_data:
            try:
                recipient.event_types = check_event_types(given.validated_data["event_types"])
            except RecipientError as error:
                raise _spec_error(error, "event_types") from None
            recipient.save(update_fields=["event_types"])
        return Response(RecipientSerializer(recipient).data)

    @extend_schema(request=None, responses={200: CurrentSecretSerializer, **error_responses(409)})
    @action(detail=True, methods=["get"])
    def secret(self, request: Request, pk: str | None = None) -> Response:
        """Read a webhook endpoint's current secret

        The newest signing secret, in full, for the recipient's owner only (as Svix does): a
        receiver set up after the recipient was created reads it here instead of racing the
        first delivery. 409 for an email recipient.
        """
        recipient = self.get_object()
        if recipient.owner_id != request.user.pk and not request.user.is_superuser:
            raise NotFound()  # staff may see recipients, not their owners' secrets
        if recipient.kind != Recipient.Kind.WEBHOOK:
            raise StateConflict("only webhook endpoints have secrets")
        secret = current_secret(recipient)
        if secret is None:
            raise StateConflict("this endpoint has no secret")
        return Response(CurrentSecretSerializer(secret).data, headers={"Cache-Control": "no-store"})

    @extend_schema(
        request=None,
        responses={202: DeliverySerializer, **error_responses(409)},
    )
    @action(detail=True, methods=["post"], url_path="send-test")
    def send_test(self, request: Request, pk: str | None = None) -> Response:
        """Send the endpoint a signed `test` event now.

        It goes through the outbox and the webhook transport like any event (whatever the
        endpoint subscribes to); follow the returned delivery and its attempts at
        /api/deliveries/{id}/. 409 for an email recipient, and while the endpoint is disabled.
        """
        recipient = self.get_object()
        if recipient.kind != Recipient.Kind.WEBHOOK:
            raise StateConflict("only webhook endpoints take a test event")
        try:
            delivery = publish_test(recipient)
        except PublishError as error:
            raise StateConflict(str(error)) from None
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: RecipientSerializer})
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk: str | None = None) -> Response:
        """Enable a recipient again

        A disabled endpoint (410 Gone, or failing too long) receives deliveries again; its
        failed deliveries can then be replayed.
        """
        recipient = self.get_object()
        Recipient.objects.filter(id=recipient.id).update(
            disabled_at=None, disabled_reason="", failing_since=None, **CLOSED
        )
        recipient.refresh_from_db()
        return Response(RecipientSerializer(recipient).data)


class DeliveryViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Delivery]
):
    validates_query = ("list",)  # its filters answer 400

    @extend_schema(
        summary="List deliveries",
        description="Each event sent (or to send) to each of your recipients, newest first, "
        "paged (`page`), filtered by the parameters given.",
        parameters=[DeliveryFilterSerializer],
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Read a delivery",
        description="Its state, next attempt and every attempt made (status, latency, the "
        "response truncated, secrets redacted).",
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    def get_serializer_class(self) -> type[DeliverySerializer]:
        return DeliveryDetailSerializer if self.action == "retrieve" else DeliverySerializer

    def get_queryset(self) -> QuerySet[Delivery]:
        rows = Delivery.objects.select_related("recipient")
        if self.action == "retrieve":
            rows = rows.prefetch_related("attempts")
        user = self.request.user
        if not user.is_superuser:
            rows = rows.filter(recipient__owner_id=user.pk)
        if self.action == "list":
            given = DeliveryFilterSerializer(data=self.request.query_params.dict())  # "" is refused
            given.is_valid(raise_exception=True)
            rows = rows.filter(**given.validated_data)
        return rows.order_by("-created_at", "part")

    @extend_schema(request=None, responses={202: DeliverySerializer, **error_responses(409)})
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str | None = None) -> Response:
        """Send a delivery again

        Queued again with the same `webhook-id` (receivers drop it if they had it). 409 while
        it is being sent, or when its recipient is disabled (enable it first).
        """
        delivery = self.get_object()
        try:
            delivery = replay(delivery.id)
        except ReplayError as error:
            raise StateConflict(str(error)) from None
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
