"""API shapes: what a caller sends to create a batch, and what batches and links look like."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.apiduration import DurationSecondsField
from common.strict import StrictSerializer
from notifications.api.specs import MAX_RECIPIENTS, RecipientSpecField
from notifications.models import Recipient
from signing.signer import MAX_EXPIRES_IN, MAX_KEY_BYTES
from tasks.batches.spec import BatchRequest
from tasks.models import Batch, Revocation, ShareLink, SkippedKey

EMPTY_PREFIX = "the prefix is empty: give the start of the keys to share, e.g. 'reports/'"
REPORT_LIMIT = 1000  # skipped keys shown on a batch; the CSV export lists them all


def expires_in_field(**extra: Any) -> serializers.IntegerField:
    """Seconds a link lives: 1..604800 (7 days, SigV4's limit), or a duration such as "7d"."""
    limits = f"must be between 1 and {MAX_EXPIRES_IN} seconds (7 days)"
    return DurationSecondsField(
        min_value=1,
        max_value=MAX_EXPIRES_IN,
        error_messages={"min_value": f"expires_in {limits}", "max_value": f"expires_in {limits}"},
        **extra,
    )


@extend_schema_field(
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "examples": [0.2]}
)
class ShareField(serializers.FloatField):
    """A share strictly between 0 and 1."""

    def to_internal_value(self, data: Any) -> float:
        value = super().to_internal_value(data)
        if not 0 < value < 1:
            raise serializers.ValidationError("a share of the TTL, between 0 and 1 (exclusive)")
        return value


class BatchCreateSerializer(StrictSerializer[dict[str, Any]]):
    """What a caller sends to create a batch: `keys` or a `prefix`, and how links live."""

    request_schema_rules: ClassVar[dict[str, Any]] = {
        "oneOf": [{"required": ["keys"]}, {"required": ["prefix"]}],
        "not": {
            "required": ["refresh", "refresh_until"],
            "properties": {"refresh": {"const": False}, "refresh_until": {"type": "string"}},
        },
    }

    keys = serializers.ListField(
        child=serializers.CharField(
            trim_whitespace=False,
            max_length=MAX_KEY_BYTES,
            error_messages={
                "blank": "an object key must be a non-empty string",
                "max_length": f"an object key is at most {MAX_KEY_BYTES} bytes of UTF-8",
            },
            help_text=f"An object key: 1..{MAX_KEY_BYTES} bytes of UTF-8.",
        ),
        min_length=1,
        error_messages={"min_length": "no keys given: list at least one object key"},
        required=False,
        help_text="Object keys to share (duplicates are signed once; at most "
        "LINKS_MAX_BATCH_SIZE distinct keys). Give `keys` or `prefix`, not both.",
    )
    prefix = serializers.CharField(
        required=False,
        trim_whitespace=False,
        max_length=MAX_KEY_BYTES,
        error_messages={"blank": EMPTY_PREFIX},
        help_text="Share every object whose key starts with this (listed from the bucket; "
        "404 when there is none). Give `keys` or `prefix`, not both.",
    )
    expires_in = expires_in_field(
        required=False,
        help_text="Seconds each link lives, 1..604800 (7 days), or a duration such as "
        '"90m" or "7d"; default '
        "LINKS_DEFAULT_EXPIRES_IN. Temporary credentials may end a link earlier.",
    )
    recipients = serializers.ListField(
        child=RecipientSpecField(),
        required=False,
        max_length=MAX_RECIPIENTS,
        help_text="Where the links are delivered: email addresses and webhook endpoints.",
    )
    refresh = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Re-sign and re-deliver the links before they lapse; default: on when "
        "`refresh_until` is given.",
    )
    refresh_until = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="A future time (with a time zone) after which links are no longer "
        "refreshed; null: refreshed until revoked. Only with refresh on.",
    )
    refresh_margin = ShareField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Share of the TTL left when a link is re-signed (0..1, exclusive); "
        "default LINKS_REFRESH_MARGIN_PERCENT.",
    )
    refresh_floor = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=MAX_EXPIRES_IN,
        help_text="Seconds left, at least, when a link is re-signed (0..604800); "
        "default LINKS_REFRESH_FLOOR.",
    )
    notify_lapsed = serializers.BooleanField(
        default=False, help_text="Send a links.lapsed event when links lapse."
    )
    filename_from_key = serializers.BooleanField(
        default=False,
        help_text="Downloads are named after the last part of the key "
        "(Content-Disposition on the signed URL).",
    )
    check_existence = serializers.BooleanField(
        default=False, help_text="Report keys with no object instead of signing them."
    )

    def validate_keys(self, keys: list[str]) -> list[str]:
        for number, key in enumerate(keys):
            if len(key.encode("utf-8")) > MAX_KEY_BYTES:
                raise serializers.ValidationError(
                    {str(number): [f"an object key is at most {MAX_KEY_BYTES} bytes of UTF-8"]}
                )
        return keys

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


class SkippedKeySerializer(serializers.ModelSerializer[SkippedKey]):
    field_help: ClassVar[dict[str, str]] = {
        "key": "The key that got no link.",
        "detail": "What happened, in words.",
    }

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


class RecipientSummarySerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField(help_text="The recipient's id (see /api/recipients/).")
    kind = serializers.CharField(help_text="`email` or `webhook`.")
    address = serializers.CharField(help_text="The email address or the webhook URL.")
    secret = serializers.CharField(
        required=False, help_text="The generated webhook secret: in the create response only."
    )


class BatchSerializer(serializers.ModelSerializer[Batch]):
    field_help: ClassVar[dict[str, str]] = {
        "id": "The batch's id (a UUID).",
        "prefix": "The prefix it was made from; empty for a key list.",
        "bucket": "The bucket the objects are in.",
        "filename_from_key": "Downloads are named after the last part of the key.",
        "check_existence": "Keys with no object are reported instead of signed.",
        "refresh": "Links are re-signed and re-delivered before they lapse.",
        "refresh_until": "When refreshing stops; null: until revoked.",
        "signed": "Links made so far.",
        "error": "Why the batch failed; empty otherwise.",
        "created_at": "When it was created (RFC 3339, UTC).",
        "finished_at": "When signing ended; null until then.",
        "skipped_keys": "The first 1,000 keys that got no link, and why.",
        "recipients": "Where its links are delivered.",
    }
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


class LinkSerializer(serializers.ModelSerializer[ShareLink]):
    field_help: ClassVar[dict[str, str]] = {
        "id": "The link's id.",
        "key": "The object's key.",
        "url": "The pre-signed URL; it works until `expires_at`, even after a revocation.",
        "filename": "The download name, when the batch named files after their keys.",
        "issued_at": "When this URL was signed.",
        "expires_at": "When this URL stops working.",
        "refresh_until": "When refreshing stops; null: until revoked.",
        "refresh_at": "When it will be re-signed next; null when it is not refreshed.",
        "revoked_at": "When it was revoked; null if it was not.",
        "permalink": "A stable address that redirects to a fresh URL while the link is "
        "active; null without LINKS_PUBLIC_BASE_URL.",
    }
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
        permalink: Callable[[str], str | None] = self.context["permalink"]  # the view's maker
        return permalink(link.token)


class RevocationSerializer(serializers.ModelSerializer[Revocation]):
    field_help: ClassVar[dict[str, str]] = {
        "id": "The revocation's id.",
        "batch": "The batch whose links it revokes.",
        "status": "pending, revoking, announcing, then done (or failed).",
        "revoked": "Links revoked so far.",
        "deliveries": "links.revoked deliveries created.",
        "error": "Why it failed; empty otherwise.",
        "requested_at": "When it was asked for.",
        "finished_at": "When it ended; null until then.",
    }
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
