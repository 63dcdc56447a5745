"""API shapes: what a caller sends to create a batch, and what batches and links look like."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.apiinput import refuse_unknown_fields
from notifications.models import Recipient
from tasks.batchspec import BatchRequest
from tasks.models import Batch, Revocation, ShareLink, SkippedKey

REPORT_LIMIT = 1000  # skipped keys shown on a batch; the CSV export lists them all


class BatchCreateSerializer(serializers.Serializer):
    keys = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False, allow_blank=True),
        required=False,
        help_text="Object keys to share (duplicates are signed once). Or give `prefix`.",
    )
    prefix = serializers.CharField(
        required=False,
        trim_whitespace=False,
        allow_blank=True,
        help_text="Share every object whose key starts with this.",
    )
    expires_in = serializers.IntegerField(
        required=False,
        help_text="Seconds each link lives, 1..604800; default LINKS_DEFAULT_EXPIRES_IN.",
    )
    recipients = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text='[{"email": "..."}, {"webhook": "https://...", "secret": "whsec_..."}]',
    )
    refresh = serializers.BooleanField(required=False, allow_null=True, default=None)
    refresh_until = serializers.DateTimeField(required=False, allow_null=True, default=None)
    refresh_margin = serializers.FloatField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Share of the TTL left when a link is re-signed (0..1); "
        "default LINKS_REFRESH_MARGIN_PERCENT.",
    )
    refresh_floor = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Seconds left, at least, when a link is re-signed; default LINKS_REFRESH_FLOOR.",
    )
    notify_lapsed = serializers.BooleanField(
        default=False, help_text="Send a links.lapsed event when links lapse."
    )
    filename_from_key = serializers.BooleanField(default=False)
    check_existence = serializers.BooleanField(
        default=False, help_text="Report keys with no object instead of signing them."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown_fields(self)
        return attrs

    def to_request(self) -> BatchRequest:
        data = self.validated_data
        return BatchRequest(
            keys=data.get("keys"),
            prefix=data.get("prefix"),
            expires_in=data.get("expires_in", settings.LINKS_DEFAULT_EXPIRES_IN),
            filename_from_key=data["filename_from_key"],
            check_existence=data["check_existence"],
            refresh=data["refresh"],
            refresh_until=data["refresh_until"],
            recipients=data.get("recipients", ()),
            notify_lapsed=data["notify_lapsed"],
            refresh_margin=data["refresh_margin"],
            refresh_floor=data["refresh_floor"],
        )


class SkippedKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = SkippedKey
        fields = ["key", "reason", "detail"]


def recipient_summaries(
    recipients: Iterable[Recipient], secrets: dict[int, str]
) -> list[dict[str, Any]]:
    """Recipients as a batch or schedule shows them; a generated secret only when given."""
    shown = []
    for recipient in recipients:
        row: dict[str, Any] = {"id": recipient.id, "kind": recipient.kind}
        row["address"] = recipient.address
        if recipient.id in secrets:
            row["secret"] = secrets[recipient.id]
        shown.append(row)
    return shown


class RecipientSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    address = serializers.CharField()
    secret = serializers.CharField(
        required=False, help_text="The generated webhook secret: in the create response only."
    )


class BatchSerializer(serializers.ModelSerializer):
    skipped_keys = serializers.SerializerMethodField()
    recipients = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields = [
            "id",
            "status",
            "source",
            "prefix",
            "bucket",
            "expires_in",
            "filename_from_key",
            "check_existence",
            "refresh",
            "refresh_until",
            "refresh_margin",
            "refresh_floor",
            "notify_lapsed",
            "total",
            "signed",
            "skipped",
            "failed",
            "error",
            "created_at",
            "finished_at",
            "skipped_keys",
            "recipients",
        ]
        read_only_fields = fields

    @extend_schema_field(SkippedKeySerializer(many=True))
    def get_skipped_keys(self, batch: Batch) -> list[dict[str, Any]]:
        rows = batch.skipped_keys.order_by("key")[:REPORT_LIMIT]
        return SkippedKeySerializer(rows, many=True).data  # type: ignore[return-value]

    @extend_schema_field(RecipientSummarySerializer(many=True))
    def get_recipients(self, batch: Batch) -> list[dict[str, Any]]:
        return recipient_summaries(batch.recipients.all(), self.context.get("secrets", {}))


class LinkSerializer(serializers.ModelSerializer):
    permalink = serializers.SerializerMethodField()

    class Meta:
        model = ShareLink
        fields = [
            "id",
            "key",
            "url",
            "filename",
            "issued_at",
            "expires_at",
            "ttl",
            "version",
            "status",
            "refresh_until",
            "refresh_at",
            "revoked_at",
            "hits",
            "permalink",
        ]
        read_only_fields = fields

    def get_permalink(self, link: ShareLink) -> str | None:
        return self.context["permalink"](link.token)


class RevocationSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="Where to follow it (GET).")

    class Meta:
        model = Revocation
        fields = [
            "id",
            "url",
            "batch",
            "status",
            "revoked",
            "deliveries",
            "error",
            "requested_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_url(self, revocation: Revocation) -> str:
        return f"/api/revocations/{revocation.id}/"
