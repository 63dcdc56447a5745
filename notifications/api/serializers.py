"""Serializers for recipients, deliveries and their attempts (secrets masked, shown once)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.strict import StrictSerializer
from notifications.api.specs import SECRET_FORMAT, event_types_field
from notifications.catalog import EVENT_TYPES
from notifications.models import Attempt, Delivery, Recipient, WebhookSecret
from notifications.webhook_secrets import active_secrets


class SecretSerializer(serializers.ModelSerializer[WebhookSecret]):
    class Meta:
        model = WebhookSecret
        fields = ["masked", "created_at", "expires_at"]


class RecipientSerializer(serializers.ModelSerializer[Recipient]):
    field_help: ClassVar[dict[str, str]] = {
        "id": "The recipient's id.",
        "address": "The email address or the webhook URL.",
        "header_names": "Names of the extra headers sent (values are not shown).",
        "secrets": "The webhook's valid signing secrets, masked.",
        "created_at": "When it was added.",
        "last_success_at": "The last delivery it accepted.",
        "disabled_at": "When it was disabled; null while enabled.",
        "disabled_reason": "Why it was disabled.",
    }
    address = serializers.CharField(read_only=True)
    header_names = serializers.SerializerMethodField()
    secrets = serializers.SerializerMethodField()
    breaker_state = serializers.ChoiceField(
        choices=["closed", "open", "half-open"],
        read_only=True,
        help_text="closed: sending; open: left alone until breaker_open_until after "
        "consecutive_failures timeouts or errors in a row; half-open: one probe decides",
    )
    event_types = serializers.SerializerMethodField()

    class Meta:
        model = Recipient
        fields = [
            "id",
            "kind",
            "address",
            "timezone",
            "event_types",
            "header_names",
            "secrets",
            "created_at",
            "last_success_at",
            "failing_since",
            "consecutive_failures",
            "breaker_state",
            "breaker_open_until",
            "breaker_trips",
            "disabled_at",
            "disabled_reason",
        ]
        read_only_fields = fields

    @extend_schema_field(event_types_field(read_only=True))
    def get_event_types(self, recipient: Recipient) -> list[str] | None:
        return list(recipient.event_types) or None

    def get_header_names(self, recipient: Recipient) -> list[str]:
        return sorted(recipient.headers)  # values may be credentials: names only

    def get_secrets(self, recipient: Recipient) -> list[dict[str, Any]]:
        if recipient.kind != Recipient.Kind.WEBHOOK:
            return []
        live = set(active_secrets(recipient))
        rows = [s for s in recipient.secrets.all() if s.secret in live]
        return list(SecretSerializer(rows, many=True).data)


MAX_GRACE_SECONDS = 30 * 86400


class RotateSecretSerializer(StrictSerializer[dict[str, Any]]):
    secret = serializers.CharField(
        required=False,
        trim_whitespace=False,
        validators=[RegexValidator(SECRET_FORMAT, "'whsec_' followed by base64 of 24 to 64 bytes")],
        help_text="The new secret; omitted: one is generated and shown once, in the response.",
    )
    grace_seconds = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_GRACE_SECONDS,
        help_text="How long the current secrets stay valid (0..30 days); default "
        "WEBHOOK_SECRET_GRACE.",
    )


class DeliveryFilterSerializer(serializers.Serializer[dict[str, Any]]):
    status = serializers.ChoiceField(
        choices=Delivery.Status.choices, required=False, help_text="Only deliveries in this state."
    )
    subject = serializers.CharField(
        required=False, max_length=64, help_text="Only deliveries about this (a batch id)."
    )
    event_type = serializers.ChoiceField(
        choices=EVENT_TYPES, required=False, help_text="Only deliveries of this event type."
    )
    recipient = serializers.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1, help_text="Only to this recipient id."
    )


class CurrentSecretSerializer(serializers.ModelSerializer[WebhookSecret]):
    field_help: ClassVar[dict[str, str]] = {
        "secret": "The current signing secret, in full (`whsec_…`): verify with it.",
        "created_at": "When it was made (created or rotated).",
    }

    class Meta:
        model = WebhookSecret
        fields = ["secret", "created_at"]


class RecipientChangeSerializer(StrictSerializer[dict[str, Any]]):
    event_types = event_types_field(required=False)  # a PATCH is partial: {} changes nothing


class AttemptSerializer(serializers.ModelSerializer[Attempt]):
    field_help: ClassVar[dict[str, str]] = {
        "number": "1 for the first try.",
        "started_at": "When the try started.",
        "latency_ms": "How long it took, in milliseconds.",
        "error": "What failed (connection, timeout, refusal); empty on success.",
    }

    class Meta:
        model = Attempt
        fields = [
            "number",
            "started_at",
            "latency_ms",
            "outcome",
            "status_code",
            "response",
            "error",
        ]


class DeliverySerializer(serializers.ModelSerializer[Delivery]):
    field_help: ClassVar[dict[str, str]] = {
        "id": "The delivery's id.",
        "webhook_id": "The `webhook-id` header: the same on every retry and replay.",
        "recipient": "The recipient's id.",
        "recipient_kind": "`email` or `webhook`.",
        "recipient_address": "The email address or webhook URL.",
        "event_type": "`links.issued`, `links.refreshed`, `links.revoked`, `links.lapsed` "
        "or `test`.",
        "part": "Which part of the event this is (big events are split), from 1.",
        "parts": "How many parts the event has.",
        "link_count": "Links in this part.",
        "created_at": "When it was queued.",
        "next_attempt_at": "When it will be tried next; null when done.",
        "delivered_at": "When it was accepted; null until then.",
        "attempt_count": "Tries so far.",
        "last_error": "What failed last; empty when none did.",
        "attempts": "Every try, first to last.",
    }
    webhook_id = serializers.CharField(source="message_id", read_only=True)
    recipient_kind = serializers.CharField(source="recipient.kind", read_only=True)
    recipient_address = serializers.CharField(source="recipient.address", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook_id",
            "recipient",
            "recipient_kind",
            "recipient_address",
            "event_type",
            "subject",
            "part",
            "parts",
            "link_count",
            "status",
            "created_at",
            "next_attempt_at",
            "delivered_at",
            "attempt_count",
            "last_error",
        ]
        read_only_fields = fields


class DeliveryDetailSerializer(DeliverySerializer):
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "attempts"]
        read_only_fields = fields
