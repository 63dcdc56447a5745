"""Who receives links (recipients), and the outbox of messages to them (deliveries, attempts)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from common.fields import EncryptedJSONField, EncryptedTextField
from common.redact import redact
from notifications.urlsecrets import joined


class Recipient(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "email"
        WEBHOOK = "webhook", "webhook"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="recipients",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    email = models.EmailField(blank=True)
    url = models.URLField(max_length=2048, blank=True)
    url_query = EncryptedTextField(
        blank=True,
        default="",
        help_text="the URL's query as given, when it carries a secret (encrypted at rest); "
        "url then shows the secret values as '…' (notifications.urlsecrets)",
    )
    headers = EncryptedJSONField(
        default=dict, blank=True, help_text="extra webhook headers (encrypted at rest)"
    )
    timezone = models.CharField(max_length=64, default="UTC", help_text="for times in emails")
    event_types = models.JSONField(
        default=list,
        blank=True,
        help_text="the event types it receives (catalog.SUBSCRIBABLE); empty: all",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="first failure since the last success"
    )
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    # The circuit breaker (webhooks): after DELIVERY_BREAKER_AFTER failures in a row the
    # endpoint is left alone until breaker_open_until; then one probe decides.
    consecutive_failures = models.PositiveIntegerField(
        default=0, help_text="timeouts and errors in a row since the last success"
    )
    breaker_open_until = models.DateTimeField(
        null=True, blank=True, help_text="no attempts before then (the breaker is open)"
    )
    breaker_trips = models.PositiveIntegerField(
        default=0, help_text="times the breaker opened since the last success"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="recipient_has_its_address",
                condition=(
                    models.Q(kind="email", url="") & ~models.Q(email="")
                    | models.Q(kind="webhook", email="") & ~models.Q(url="")
                ),
            ),
            models.UniqueConstraint(
                fields=["owner", "kind", "email", "url"],
                condition=models.Q(owner__isnull=False),
                name="recipient_unique_per_owner",
            ),
            models.UniqueConstraint(
                fields=["kind", "email", "url"],
                condition=models.Q(owner__isnull=True),
                name="recipient_unique_without_owner",
            ),
        ]

    def __str__(self) -> str:
        # shown in admin pages and logs: a URL may carry a token (?token=…)
        return redact(f"{self.kind}:{self.email or self.url}")

    @property
    def address(self) -> str:
        return self.email or self.url

    @property
    def target_url(self) -> str:
        """Where a webhook is sent: the URL with its secret query put back."""
        return joined(self.url, self.url_query or "")

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def breaker_state(self) -> str:
        """closed (sending), open (left alone until breaker_open_until) or half-open (one
        probe allowed: its result closes or opens the breaker again)."""
        if self.breaker_open_until is None:
            return "closed"
        return "open" if self.breaker_open_until > timezone.now() else "half-open"

    def wants(self, event_type: str) -> bool:
        """Whether it subscribes to this event type (all of them when it names none)."""
        return not self.event_types or event_type in self.event_types


class WebhookSecret(models.Model):
    """A signing secret of a webhook endpoint; rotation keeps the old one until `expires_at`."""

    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="secrets")
    secret = EncryptedTextField(help_text="encrypted at rest (FIELD_ENCRYPTION_KEYS)")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.masked} (recipient {self.recipient_id})"

    @property
    def masked(self) -> str:
        return "whsec_…" + self.secret[-4:]


class MessageBody(models.Model):
    """A message body, stored once and shared by the deliveries that send it.

    Every recipient of one event (one part of it, for webhooks) gets the same bytes; each
    delivery signs them with its own recipient's secret and its own webhook-id when it sends.
    """

    text = models.TextField(help_text="the message as JSON text, exactly as sent")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"message body {self.pk} ({len(self.text)} characters)"


class Delivery(models.Model):
    """One message to one recipient about one event (one part of it when split)."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        SENDING = "sending", "sending"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=32)
    subject = models.CharField(max_length=200, help_text="what the event is about (a batch id)")
    part = models.PositiveIntegerField(default=1)
    parts = models.PositiveIntegerField(default=1)
    body = models.ForeignKey(MessageBody, on_delete=models.PROTECT, related_name="deliveries")
    link_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text="when a dispatch task for it was last enqueued"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="a claim not renewed by then is a lost worker's"
    )
    attempt_count = models.PositiveIntegerField(default=0)
    tries = models.PositiveIntegerField(default=0, help_text="attempts since the last (re)play")
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="delivery_due_idx",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(status="sending"),
                name="delivery_claimed_idx",
            ),
            models.Index(
                fields=["lease_until"],
                condition=models.Q(status="sending"),
                name="delivery_lease_idx",
            ),
            models.Index(
                fields=["recipient", "next_attempt_at"],
                condition=models.Q(status="pending"),
                name="delivery_lane_due_idx",
            ),
            models.Index(  # a lane's live claims (lanes._runs_in), whatever else is in flight
                fields=["recipient", "lease_until"],
                condition=models.Q(status="sending"),
                name="delivery_lane_lease_idx",
            ),
            models.Index(fields=["recipient", "-created_at"], name="delivery_recipient_idx"),
            models.Index(fields=["subject", "event_type"], name="delivery_subject_idx"),
            models.Index(  # retention: ended deliveries, oldest first
                fields=["created_at"],
                condition=models.Q(status__in=["delivered", "failed"]),
                name="ended_deliveries_by_creation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.subject} part {self.part}/{self.parts} → {self.recipient}"

    @property
    def payload(self) -> str:
        """The body as sent (JSON text); shared with the other deliveries of the same part."""
        return self.body.text

    @property
    def message_id(self) -> str:
        """The Standard Webhooks `webhook-id`: the same on every try and on replays."""
        return f"msg_{self.id.hex}"


class Attempt(models.Model):
    class Outcome(models.TextChoices):
        DELIVERED = "delivered", "delivered"
        TRANSIENT = "transient", "transient failure"
        PERMANENT = "permanent", "permanent failure"
        LOST = "lost", "lost (worker stopped while sending)"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    status_code = models.PositiveIntegerField(
        null=True, blank=True, help_text="HTTP status or SMTP reply code"
    )
    response = models.TextField(blank=True, help_text="response body or SMTP reply, truncated")
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_unique")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.outcome}"


class DeliveryMeter(models.Model):
    """Work of the dispatch runs that could not be done, for /healthz (one row, `deliveries`):
    first contacts cut off in `deliveries` whose claim ran out before quarantine took them
    over (cutoff.py; the sweeper recovered their deliveries)."""

    name = models.CharField(max_length=40, primary_key=True)
    takeovers_lost = models.BigIntegerField(default=0, help_text="Take-overs lost, ever.")
    takeover_lost_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.takeovers_lost} take-overs lost"
