"""Serializers for recipients, deliveries and their attempts (secrets masked, shown once)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notifications.catalog import SUBSCRIBABLE
from notifications.models import Attempt, Delivery, Recipient, WebhookSecret
from notifications.webhook_secrets import active_secrets


class SecretSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookSecret
        fields = ["masked", "created_at", "expires_at"]


EVENT_TYPES_HELP = (
    "The event types it receives (see the `webhooks` section); null: all of them, including "
    "types added later. The `test` event is sent on request whatever this says."
)


def event_types_field(**options: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE),
        allow_null=True,
        allow_empty=False,
        help_text=EVENT_TYPES_HELP,
        **options,
    )


class RecipientSerializer(serializers.ModelSerializer):
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


class RecipientSpecSerializer(serializers.Serializer):
    email = serializers.CharField(required=False)
    webhook = serializers.CharField(required=False)
    secret = serializers.CharField(required=False)
    headers = serializers.DictField(child=serializers.CharField(), required=False)
    timezone = serializers.CharField(required=False)
    event_types = event_types_field(required=False)


class RecipientChangeSerializer(serializers.Serializer):
    event_types = event_types_field(required=True)


class AttemptSerializer(serializers.ModelSerializer):
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


class DeliverySerializer(serializers.ModelSerializer):
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
