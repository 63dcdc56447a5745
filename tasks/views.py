"""Staff page: a pre-signed media URL and the static URL for one object."""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from access.grants import OPERATOR
from tasks.signing.entry import SigningError, sign


@staff_member_required
def object_links(request: HttpRequest) -> HttpResponse:
    key = request.GET.get("key", "").strip()
    context: dict[str, object] = {"key": key}
    refusal = OPERATOR.refusal(key) if key else None  # staff act as the operator
    if refusal:
        context["error"] = f"this key cannot be shared: {refusal}"
    elif key:
        try:
            signed = sign(key, settings.AWS_QUERYSTRING_EXPIRE)
            context.update(media_url=signed.url, expires_at=signed.expires_at)
        except SigningError as error:
            context["error"] = str(error)
        context["static_url"] = staticfiles_storage.url(key)
    return render(request, "tasks/object_links.html", context)
