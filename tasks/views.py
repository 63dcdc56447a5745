"""Staff page: a pre-signed media URL and the static URL for one object.

Staff sign within their own key grants, like any user; only superusers sign any key (but
the reserved prefix), like the command line.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from access.grants import scope_for
from media.signing import SigningError, sign


@staff_member_required
def object_links(request: HttpRequest) -> HttpResponse:
    key = request.GET.get("key", "").strip()
    context: dict[str, object] = {"key": key}
    refusal = scope_for(request.user).refusal(key) if key else None
    if refusal:
        context["error"] = f"this key cannot be shared: {refusal}"
    elif key:
        try:
            signed = sign(key, settings.AWS_QUERYSTRING_EXPIRE)
            context.update(media_url=signed.url, expires_at=signed.expires_at)
        except SigningError as error:
            context["error"] = str(error)
        context["static_url"] = static_url(key)
    return render(request, "tasks/object_links.html", context)


def static_url(key: str) -> str | None:
    """The static URL of `key`; None when it is no static file (WhiteNoise's manifest)."""
    try:
        return staticfiles_storage.url(key)
    except ValueError:  # "Missing staticfiles manifest entry": not a collected static file
        return None
