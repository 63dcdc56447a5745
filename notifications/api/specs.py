"""Recipients as the API takes them: an email address or a webhook endpoint (a oneOf).

The shapes here are what the OpenAPI document publishes and what the server enforces, so a
client (or a fuzzer) that follows the document is never refused for the shape; the checks
that need more than the shape (the SSRF guard on an IP-literal host, a different secret for
an endpoint that has one) stay in `notifications.recipients`.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import available_timezones

from django.core.validators import RegexValidator
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from common.strict import StrictSerializer
from notifications.addresses import MAX_HEADERS, MAX_URL_LENGTH
from notifications.catalog import SUBSCRIBABLE

MAX_RECIPIENTS = 100
TIME_ZONES = sorted(available_timezones())

# https (http where WEBHOOK_ALLOW_HTTP), a host name or IPv4 address, an optional port, then
# printable ASCII: no user info, no spaces, no control characters.
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST = rf"(?:{LABEL}\.)*{LABEL}"
PORT = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
WEBHOOK_URL = rf"^https?://{HOST}(?::{PORT})?(?:[/?#][!-~]*)?$"
B64 = "[A-Za-z0-9+/]"
# whsec_ + base64 of 24..64 bytes: 8..21 groups of 4 (3 bytes each), then 1 or 2 more bytes.
SECRET_FORMAT = (
    rf"^whsec_(?:{B64}{{4}}){{8,20}}(?:{B64}{{4}}(?:{B64}{{2}}==)?|{B64}{{2}}==|{B64}{{3}}=)?$"
)
HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$"
# One line of Latin-1 (what HTTP/1.1 can carry): tab, printable ASCII, 0x80..0xFF.
HEADER_VALUE = r"^[\t\u0020-\u007e\u0080-\u00ff]*$"
# A dot-atom local part and a domain of letter-ended labels: what Django's EmailValidator takes.
EMAIL = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def time_zone_field(**extra: Any) -> serializers.ChoiceField:
    unknown: dict[str, Any] = {"invalid_choice": 'unknown time zone "{input}"'}
    return serializers.ChoiceField(choices=TIME_ZONES, error_messages=unknown, **extra)


EVENT_TYPES_HELP = (
    "The event types it receives (see the `webhooks` section); null: all of them, including "
    "types added later. The `test` event is sent on request whatever this says."
)


def event_types_field(required: bool = False, **options: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=SUBSCRIBABLE),
        min_length=1,
        max_length=len(SUBSCRIBABLE),
        required=required,
        allow_null=True,
        help_text=EVENT_TYPES_HELP,
        **options,
    )


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": MAX_HEADERS,
        "propertyNames": {"pattern": HEADER_NAME},
        "additionalProperties": {"type": "string", "maxLength": 1024, "pattern": HEADER_VALUE},
        "examples": [{"X-Api-Key": "k-123"}],
    }
)
class HeadersField(serializers.DictField):
    """Extra request headers: one-line Latin-1 values, names as HTTP allows."""

    def __init__(self, **kwargs: Any) -> None:
        value = serializers.CharField(
            max_length=1024,
            allow_blank=True,
            trim_whitespace=False,
            validators=[RegexValidator(HEADER_VALUE, "a header value is one line of Latin-1")],
        )
        super().__init__(child=value, **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        headers = super().to_internal_value(data)
        if len(headers) > MAX_HEADERS:
            raise serializers.ValidationError(f"at most {MAX_HEADERS} custom headers")
        bad = [name for name in headers if not re.match(HEADER_NAME, name)]
        if bad:
            raise serializers.ValidationError(f"{bad[0]!r} is not a valid header name")
        return headers


class EmailRecipientSpecSerializer(StrictSerializer[dict[str, Any]]):
    email = serializers.CharField(
        max_length=254,
        trim_whitespace=False,
        validators=[RegexValidator(EMAIL, "%(value)r is not a valid email address")],
        help_text="The address links are sent to.",
    )
    timezone = time_zone_field(
        required=False, help_text="IANA time zone for the times shown in the email; default UTC."
    )
    event_types = event_types_field()


class WebhookRecipientSpecSerializer(StrictSerializer[dict[str, Any]]):
    webhook = serializers.CharField(
        max_length=MAX_URL_LENGTH,
        trim_whitespace=False,
        validators=[RegexValidator(WEBHOOK_URL, "enter an https:// URL with a host")],
        help_text="The endpoint links are POSTed to: https (http only where "
        "WEBHOOK_ALLOW_HTTP), no user name or password. Private, loopback, link-local "
        "and metadata addresses are refused unless WEBHOOK_ALLOWED_NETWORKS lists them.",
    )
    secret = serializers.CharField(
        required=False,
        trim_whitespace=False,
        validators=[RegexValidator(SECRET_FORMAT, "'whsec_' followed by base64 of 24 to 64 bytes")],
        help_text="The signing secret, `whsec_` + base64 of 24..64 random bytes; omitted: one "
        "is generated and shown once, in the response.",
    )
    headers = HeadersField(
        required=False, help_text="Extra request headers sent with every delivery."
    )
    timezone = time_zone_field(required=False, help_text="IANA time zone; default UTC.")
    event_types = event_types_field()


RecipientSpecSerializer = PolymorphicProxySerializer(
    component_name="RecipientSpec",
    serializers=[EmailRecipientSpecSerializer, WebhookRecipientSpecSerializer],
    resource_type_field_name=None,
)


@extend_schema_field(RecipientSpecSerializer)
class RecipientSpecField(serializers.Field[dict[str, Any], Any, dict[str, Any], Any]):
    """`{"email": ...}` or `{"webhook": ...}`: checked by shape, field errors named."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        return check_spec(data)

    def to_representation(self, value: dict[str, Any]) -> dict[str, Any]:
        return value


def check_spec(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise serializers.ValidationError('a recipient is an object such as {"email": ...}')
    if ("email" in data) == ("webhook" in data):
        raise serializers.ValidationError("a recipient needs exactly one of 'email' or 'webhook'")
    shape = EmailRecipientSpecSerializer if "email" in data else WebhookRecipientSpecSerializer
    given = shape(data=data)
    given.is_valid(raise_exception=True)
    return dict(given.validated_data)
