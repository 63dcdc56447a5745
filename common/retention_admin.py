"""The retention window in force, shown above the admin lists of the records it bounds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from common import retention

NOTES = {
    "links": "Kept until {window} after they ended (RETENTION_LINKS); then purged hourly "
    "with their batch, chunks, skipped keys and manifests.",
    "deliveries": "Kept until {window} after they ended (RETENTION_DELIVERIES), with their "
    "attempts and message bodies; then purged hourly.",
    "schedule_runs": "Runs kept {window} (RETENTION_SCHEDULE_RUNS); a schedule's last run "
    "always stays.",
}


def note(kind: str) -> str:
    window = getattr(retention.in_force(), kind)
    return NOTES[kind].format(window=retention.human(window))


if TYPE_CHECKING:
    _AdminMixin = admin.ModelAdmin[Any]  # what the mixin's super() is
else:
    _AdminMixin = object


class ShowsRetention(_AdminMixin):
    """A ModelAdmin mixin: `retention_kind` names the window (links, deliveries, ...)."""

    retention_kind = "links"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {"subtitle": note(self.retention_kind), **(extra_context or {})}
        return super().changelist_view(request, context)
