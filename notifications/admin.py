"""Admin: endpoints (health, secrets masked, subscriptions, a test event), deliveries with
their attempts, replay."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html_join

from common.redact import redact
from common.retention_admin import ShowsRetention
from notifications.breaker import CLOSED
from notifications.catalog import SUBSCRIBABLE
from notifications.health_words import health
from notifications.models import Attempt, Delivery, Recipient, WebhookSecret
from notifications.outbox import PublishError, publish_test
from notifications.recorder import disable
from notifications.replay import ReplayError, replay


class WebhookSecretInline(admin.TabularInline[WebhookSecret, Recipient]):
    model = WebhookSecret
    fields = ["masked", "created_at", "expires_at"]
    readonly_fields = ["masked", "created_at", "expires_at"]
    extra = 0
    can_delete = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a new secret must be shown once to its owner: the API rotates


class RecipientForm(forms.ModelForm[Recipient]):
    event_types = forms.MultipleChoiceField(
        choices=[(name, name) for name in SUBSCRIBABLE],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The events it receives; none checked: all of them, including new ones.",
    )

    class Meta:
        model = Recipient
        fields = ["owner", "timezone", "event_types"]

    def clean_event_types(self) -> list[str]:
        chosen = set(self.cleaned_data["event_types"])
        return [name for name in SUBSCRIBABLE if name in chosen]


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin[Recipient]):
    form = RecipientForm
    list_display = [
        "id",
        "health",
        "kind",
        "address_",
        "owner",
        "last_success_at",
    ]
    list_filter = ["kind", ("disabled_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "url"]
    fields = [
        "health",
        "owner",
        "kind",
        "email",
        "url_",
        "timezone",
        "event_types",
        "header_names",
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
    readonly_fields = [
        "health",
        "kind",
        "email",
        "url_",
        "header_names",
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
    inlines = [WebhookSecretInline]
    actions = ["enable_endpoints", "disable_endpoints", "send_test_event"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made through the API or CLI, which validate them and show the secret

    @admin.display(description="health")
    def health(self, recipient: Recipient) -> str:
        return health(recipient, timezone.now())

    @admin.display(description="address")
    def address_(self, recipient: Recipient) -> str:
        return redact(recipient.address)

    @admin.display(description="url")
    def url_(self, recipient: Recipient) -> str:
        return redact(recipient.url or "")

    @admin.display(description="headers (values hidden)")
    def header_names(self, recipient: Recipient) -> str:
        return ", ".join(sorted(recipient.headers)) or "—"

    @admin.action(description="Enable the selected endpoints")
    def enable_endpoints(self, request: HttpRequest, queryset: QuerySet[Recipient]) -> None:
        count = queryset.update(disabled_at=None, disabled_reason="", failing_since=None, **CLOSED)
        self.message_user(request, f"{count} enabled; replay their failed deliveries if needed.")

    @admin.action(description="Send a test event to the selected endpoints")
    def send_test_event(self, request: HttpRequest, queryset: QuerySet[Recipient]) -> None:
        for recipient in queryset.order_by("id"):
            try:
                delivery = publish_test(recipient)
            except PublishError as error:
                self.message_user(request, f"{recipient}: {error}", level=messages.WARNING)
                continue
            self.message_user(
                request, f"{recipient}: test event queued as delivery {delivery.message_id}."
            )

    @admin.action(description="Disable the selected endpoints")
    def disable_endpoints(self, request: HttpRequest, queryset: QuerySet[Recipient]) -> None:
        ids = set(queryset.values_list("id", flat=True))
        disable(ids, f"disabled by {request.user}", timezone.now())
        self.message_user(request, f"{len(ids)} disabled.")


class AttemptInline(admin.TabularInline[Attempt, Delivery]):
    model = Attempt
    fields = ["number", "started_at", "latency_ms", "outcome", "status_code", "error_", "response_"]
    readonly_fields = [
        "number",
        "started_at",
        "latency_ms",
        "outcome",
        "status_code",
        "error_",
        "response_",
    ]
    extra = 0
    can_delete = False

    # Stored redacted already; redacted again when shown, for rows older than the rules.
    @admin.display(description="error")
    def error_(self, attempt: Attempt) -> str:
        return redact(attempt.error)

    @admin.display(description="response")
    def response_(self, attempt: Attempt) -> str:
        return redact(attempt.response)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ShowsRetention, admin.ModelAdmin[Delivery]):
    retention_kind = "deliveries"
    list_display = [
        "id",
        "event_type",
        "subject",
        "part_of",
        "recipient",
        "status",
        "attempt_count",
        "next_attempt_at",
        "delivered_at",
        "last_error_",
    ]
    list_filter = ["status", "event_type", "recipient__kind"]
    search_fields = ["subject", "=id"]
    list_select_related = ["recipient"]
    exclude = ["body", "claim_token", "last_error"]  # last_error: shown redacted
    readonly_fields = [
        "webhook_id",
        "recipient",
        "event_type",
        "subject",
        "part",
        "parts",
        "link_count",
        "status",
        "created_at",
        "next_attempt_at",
        "queued_at",
        "claimed_at",
        "lease_until",
        "attempt_count",
        "tries",
        "delivered_at",
        "last_error_",
        "payload_redacted",
    ]
    inlines = [AttemptInline]
    actions = ["replay_deliveries"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a delivery is a record (its lease belongs to the worker): replay it

    @admin.display(description="part")
    def part_of(self, delivery: Delivery) -> str:
        return f"{delivery.part}/{delivery.parts}"

    @admin.display(description="webhook-id")
    def webhook_id(self, delivery: Delivery) -> str:
        return delivery.message_id

    @admin.display(description="last error")
    def last_error_(self, delivery: Delivery) -> str:
        return redact(delivery.last_error)

    @admin.display(description="payload (signatures shortened)")
    def payload_redacted(self, delivery: Delivery) -> str:
        text = redact(delivery.payload)
        shown = text[:20000] + ("…" if len(text) > 20000 else "")
        return format_html_join("", "<pre style='white-space: pre-wrap'>{}</pre>", [(shown,)])

    @admin.action(description="Replay the selected deliveries (same webhook-id)")
    def replay_deliveries(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        done, refused = 0, []
        for delivery_id in queryset.values_list("id", flat=True):
            try:
                replay(delivery_id)
                done += 1
            except ReplayError as error:
                refused.append(f"{delivery_id}: {error}")
        self.message_user(request, f"{done} deliveries queued again.")
        for reason in refused:
            self.message_user(request, reason, level=messages.WARNING)
