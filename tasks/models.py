"""Batches of share links: what was asked, the keys in chunks, and every issued link."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from signing.signer import MAX_EXPIRES_IN, MAX_KEY_BYTES


def new_token() -> str:
    """A permalink token: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


class Batch(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # created; a prefix is still being listed
        SIGNING = "signing"  # keys stored in chunks, chunks queued
        DELIVERING = "delivering"  # all signed; being handed to the delivery outbox
        DONE = "done"
        FAILED = "failed"

    class Source(models.TextChoices):
        KEYS = "keys"
        PREFIX = "prefix"

    UNFINISHED = (Status.PENDING, Status.SIGNING, Status.DELIVERING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="batches",
        help_text="Who asked (API); empty for batches made on the command line.",
    )
    source = models.CharField(max_length=8, choices=Source.choices)
    prefix = models.CharField(max_length=MAX_KEY_BYTES, blank=True)
    key_root = models.CharField(
        max_length=MAX_KEY_BYTES,
        blank=True,
        default="",
        help_text="The start every key of the batch shares (its prefix, or the key list's "
        "common start): a token narrowed to some prefixes sees the batch when it lies inside.",
    )
    bucket = models.CharField(max_length=255)
    expires_in = models.PositiveIntegerField(help_text="Seconds each link lives.")
    filename_from_key = models.BooleanField(default=False)
    check_existence = models.BooleanField(default=False)
    refresh = models.BooleanField(default=False)
    refresh_until = models.DateTimeField(null=True, blank=True)
    # Per-batch overrides of the refresh policy; null means the project's setting.
    refresh_margin = models.FloatField(
        null=True, blank=True, help_text="Share of the TTL left when a link is re-signed."
    )
    refresh_floor = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds left, at least, when a link is re-signed."
    )
    notify_lapsed = models.BooleanField(
        default=False, help_text="Send links.lapsed when links of this batch lapse."
    )
    recipients = models.ManyToManyField(
        "notifications.Recipient", blank=True, related_name="batches"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(default=0, help_text="Distinct keys.")
    signed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0, help_text="Keys missing or not signable.")
    failed = models.PositiveIntegerField(default=0, help_text="Keys in chunks that failed.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(
        default=timezone.now, help_text="When its listing or hand-over task was last queued."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "batches"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="batch_owner_recent"),
            models.Index(  # retention: finished batches, oldest first
                fields=["finished_at"],
                condition=models.Q(status__in=["done", "failed"]),
                name="finished_batches",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                name="batch_expires_in_range",
                condition=models.Q(expires_in__gte=1, expires_in__lte=MAX_EXPIRES_IN),
            ),
            models.CheckConstraint(
                name="batch_prefix_matches_source",
                condition=models.Q(source="prefix") & ~models.Q(prefix="")
                | models.Q(source="keys", prefix=""),
            ),
        ]

    def __str__(self) -> str:
        return f"batch {self.id} ({self.status})"

    @property
    def processed(self) -> int:
        return self.signed + self.skipped + self.failed


class BatchChunk(models.Model):
    """A slice of a batch's keys, stored before its task runs so that a re-run knows them."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    keys = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    enqueued_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "index"], name="one_chunk_per_index")
        ]
        indexes = [
            models.Index(
                fields=["enqueued_at"],
                condition=models.Q(status="pending"),
                name="pending_chunks_by_enqueue",
            )
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of {self.batch_id}"


class SkippedKey(models.Model):
    """A key of a batch that got no link, and why."""

    class Reason(models.TextChoices):
        MISSING = "missing"  # no such object (existence check)
        INVALID = "invalid"  # the key or its filename cannot be signed
        REFUSED = "refused"  # outside the owner's key scope, or reserved (access.scopes)

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="skipped_keys")
    key = models.CharField(max_length=MAX_KEY_BYTES)
    reason = models.CharField(max_length=8, choices=Reason.choices)
    detail = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "key"], name="one_report_per_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.reason})"


class ShareLink(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        REVOKED = "revoked"
        LAPSED = "lapsed"

    # Indexed by (batch, id) and (batch, key) below; a plain batch index would be redundant.
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="links", db_index=False)
    bucket = models.CharField(max_length=255)
    key = models.CharField(max_length=MAX_KEY_BYTES)
    # None: no download filename (as the delivery items carry it), not an empty one
    filename = models.CharField(max_length=MAX_KEY_BYTES, null=True, blank=True)  # noqa: DJ001
    url = models.TextField()
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ttl = models.PositiveIntegerField(help_text="expires_in of the batch, in seconds.")
    version = models.PositiveIntegerField(default=1, help_text="1 at issue, +1 per re-signing.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    refresh_until = models.DateTimeField(null=True, blank=True)
    # Unique through Meta.constraints: a unique=True CharField also gets a LIKE index on
    # PostgreSQL, which no query uses and every insert and refresh would pay for.
    token = models.CharField(max_length=64, default=new_token)
    # When the refresher re-signs it; NULL: never again (no refresh, final signature, revoked).
    refresh_at = models.DateTimeField(null=True, blank=True)
    hits = models.PositiveBigIntegerField(db_default=0, help_text="Permalink requests served.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "key"], name="one_link_per_key_per_batch"),
            models.UniqueConstraint(fields=["token"], name="one_link_per_token"),
        ]
        indexes = [
            models.Index(fields=["batch", "id"], name="links_of_batch_in_order"),
            models.Index(
                fields=["expires_at"],
                condition=models.Q(status="active"),
                name="active_links_by_expiry",
            ),
            models.Index(  # id: links due at the same instant are taken in issue (key) order
                fields=["refresh_at", "id"],
                condition=models.Q(status="active", refresh_at__isnull=False),
                name="links_due_for_refresh",
            ),
        ]

    def __str__(self) -> str:
        return self.key


class RefreshLease(models.Model):
    """A refresh pass's hold on a run of due links: those from (first_at, first_id) to
    (last_at, last_id) in the due index's (refresh_at, id) order, until `until` (claims.py)."""

    first_at = models.DateTimeField()
    first_id = models.BigIntegerField()
    last_at = models.DateTimeField()
    last_id = models.BigIntegerField()
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"links {self.first_id}..{self.last_id} until {self.until:%H:%M:%S}"


class Revocation(models.Model):
    """A request to revoke links (a batch's, or some by id), carried out in steps that survive
    a lost worker: the links are revoked in chunks, then their recipients are told once."""

    class Status(models.TextChoices):
        PENDING = "pending"  # asked; the task is queued
        REVOKING = "revoking"  # links being revoked, chunk by chunk
        ANNOUNCING = "announcing"  # all revoked; links.revoked being published
        DONE = "done"
        FAILED = "failed"

    UNFINISHED = (Status.PENDING, Status.REVOKING, Status.ANNOUNCING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.CASCADE, related_name="revocations"
    )
    link_ids = models.JSONField(default=list, blank=True, help_text="Links by id, when no batch.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # The links it revokes get exactly this revoked_at: it tells them apart from other revocations.
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    revoked = models.PositiveIntegerField(default=0, help_text="Links revoked so far.")
    deliveries = models.PositiveIntegerField(default=0, help_text="links.revoked deliveries.")
    error = models.TextField(blank=True)
    reason = models.CharField(
        max_length=300,
        blank=True,
        help_text="Why, when no person asked (the owner's access ended); sent in links.revoked.",
    )
    enqueued_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["batch"],
                condition=models.Q(status__in=["pending", "revoking", "announcing"]),
                name="one_unfinished_revocation_per_batch",
            )
        ]
        indexes = [
            models.Index(
                fields=["enqueued_at"],
                condition=models.Q(status__in=["pending", "revoking", "announcing"]),
                name="unfinished_revocations",
            )
        ]

    def __str__(self) -> str:
        return f"revocation {self.id} ({self.status})"


class RefreshMeter(models.Model):
    """What refresh passes measured (one row, `refresh`): one pass's rate, a moving average
    over full chunks, which sizes chunks, the margin in force and the batches the pools can keep
    alive; and the last time a chunk lost its lease (shown by /healthz)."""

    name = models.CharField(max_length=40, primary_key=True)
    links_per_second = models.FloatField(default=0.0)
    measured_at = models.DateTimeField(null=True, blank=True)
    leases_lost = models.BigIntegerField(default=0, help_text="Links whose lease ran out, ever.")
    lease_lost_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.links_per_second:.0f} links/s"
