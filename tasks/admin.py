"""Admin pages for batches and links: read-only, signatures and tokens masked. Batches show
their progress and their deliveries' outcomes, with a link to those deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import CharField, Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Cast, Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from common.redact import redact
from common.retention_admin import ShowsRetention
from notifications.models import Delivery
from tasks.batches import enqueue
from tasks.models import Batch, ShareLink, SkippedKey
from tasks.revocation.revoke import Revoked, revocation_for, revoke


class ReadOnly:
    """Rows are written by the workers; the admin looks."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def masked_token(token: str) -> str:
    return f"{token[:6]}…"


def report_revoked(model_admin: admin.ModelAdmin[Any], request: HttpRequest, done: Revoked) -> None:
    model_admin.message_user(
        request,
        f"Revoked {done.links} links ({done.deliveries} links.revoked deliveries). "
        "URLs already handed out stay valid until they expire.",
        messages.SUCCESS,
    )


@admin.action(description="Revoke every active link of the selected batches")
def revoke_batches(
    model_admin: admin.ModelAdmin[Batch], request: HttpRequest, batches: QuerySet[Batch]
) -> None:
    with transaction.atomic():
        for batch in batches:
            revocation, new = revocation_for(batch, by=request.user)
            if new:
                enqueue.revocation_on_commit(revocation.id)
    model_admin.message_user(
        request,
        f"Revoking the links of {len(batches)} batches in the background; recipients get "
        "links.revoked. URLs already handed out stay valid until they expire.",
        messages.SUCCESS,
    )


@admin.action(description="Revoke the selected links")
def revoke_links(
    model_admin: admin.ModelAdmin[ShareLink], request: HttpRequest, links: QuerySet[ShareLink]
) -> None:
    report_revoked(model_admin, request, revoke(links))


def changelist_link(model: type[models.Model], batch: Batch, text: str) -> str:
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    return format_html('<a href="{}?batch__id__exact={}">{}</a>', url, batch.id, text)


DELIVERY_OUTCOMES = {
    "delivered": [Delivery.Status.DELIVERED],
    "waiting": [Delivery.Status.PENDING, Delivery.Status.SENDING],
    "failed": [Delivery.Status.FAILED],
}


def delivery_count(statuses: Sequence[str]) -> Coalesce:
    """Deliveries of the outer batch in these statuses (index on subject, event_type)."""
    of_batch = Delivery.objects.filter(
        subject=Cast(OuterRef("pk"), CharField()), status__in=statuses
    ).order_by()
    counted = of_batch.values("subject").annotate(n=Count("id")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def progress_percent(batch: Batch) -> str:
    if not batch.total:
        return "—"
    return f"{100 * batch.processed // batch.total} %"


@admin.register(Batch)
class BatchAdmin(ShowsRetention, ReadOnly, admin.ModelAdmin[Batch]):
    list_display = [
        "id",
        "owner",
        "source",
        "prefix",
        "status",
        "progress",
        "total",
        "signed",
        "skipped",
        "failed",
        "deliveries",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "source", "created_at"]
    search_fields = ["=id", "^prefix", "owner__username"]
    list_select_related = ["owner"]
    exclude = ["recipients"]
    actions = [revoke_batches]
    readonly_fields = [
        "progress",
        "deliveries",
        "recipient_list",
        "chunk_summary",
        "links_page",
        "skipped_page",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Batch]:
        counts = {f"deliveries_{name}": delivery_count(s) for name, s in DELIVERY_OUTCOMES.items()}
        annotated: QuerySet[Batch] = super().get_queryset(request).annotate(**counts)
        return annotated

    @admin.display(description="progress")
    def progress(self, batch: Batch) -> str:
        return progress_percent(batch)

    @admin.display(description="deliveries")
    def deliveries(self, batch: Batch) -> str:
        counts = ", ".join(
            f"{getattr(batch, f'deliveries_{name}', 0)} {name}" for name in DELIVERY_OUTCOMES
        )
        url = reverse("admin:notifications_delivery_changelist")
        return format_html('<a href="{}?subject={}">{}</a>', url, batch.id, counts)

    @admin.display(description="recipients")
    def recipient_list(self, batch: Batch) -> str:
        return ", ".join(str(recipient) for recipient in batch.recipients.all()) or "—"

    @admin.display(description="chunks")
    def chunk_summary(self, batch: Batch) -> str:
        counts = batch.chunks.values("status").annotate(n=Count("id")).order_by("status")
        return ", ".join(f"{row['n']} {row['status']}" for row in counts) or "—"

    @admin.display(description="links")
    def links_page(self, batch: Batch) -> str:
        return changelist_link(ShareLink, batch, f"{batch.signed} links")

    @admin.display(description="skipped keys")
    def skipped_page(self, batch: Batch) -> str:
        return changelist_link(SkippedKey, batch, f"{batch.skipped} skipped keys")


@admin.register(SkippedKey)
class SkippedKeyAdmin(ReadOnly, admin.ModelAdmin[SkippedKey]):
    list_display = ["key", "batch_id", "reason", "detail"]
    list_filter = ["reason"]
    search_fields = ["^key"]
    show_full_result_count = False


LINK_INLINE_FIELDS = (
    "batch",
    "bucket",
    "key",
    "filename",
    "masked_url",
    "masked_permalink_token",
    "issued_at",
    "expires_at",
    "ttl",
    "version",
    "status",
    "refresh_until",
    "refresh_at",
    "revoked_at",
    "hits",
    "created_at",
    "updated_at",
)


@admin.register(ShareLink)
class ShareLinkAdmin(ShowsRetention, ReadOnly, admin.ModelAdmin[ShareLink]):
    list_display = ["key", "batch_id", "status", "version", "expires_at", "masked_url"]
    list_filter = ["status", "expires_at"]
    search_fields = ["^key", "=token"]
    show_full_result_count = False  # no COUNT(*) over millions of links per page view
    fields = LINK_INLINE_FIELDS
    readonly_fields = LINK_INLINE_FIELDS
    actions = [revoke_links]

    @admin.display(description="url")
    def masked_url(self, link: ShareLink) -> str:
        return redact(link.url)

    @admin.display(description="permalink token")
    def masked_permalink_token(self, link: ShareLink) -> str:
        return masked_token(link.token)
