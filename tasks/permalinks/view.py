"""`GET /l/<token>`: 302 to a freshly signed short-lived URL while the link is alive.

No authentication: the token (192 random bits) is the secret. Unknown tokens get a bare 404.
A link whose owner lost access (deactivated, grant withdrawn) answers 410 from then on.
"""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseGone, HttpResponseNotFound
from django.utils import timezone
from django.views.decorators.http import require_safe

from media.signing import sign
from tasks.models import ShareLink
from tasks.permalinks.serving import redirect_ttl
from tasks.revocation.owners import with_access

FIELDS = (
    "id",
    "bucket",
    "key",
    "filename",
    "status",
    "expires_at",
    "refresh_at",
    "refresh_until",
    "token",
)
log = logging.getLogger(__name__)


@require_safe
def permalink(request: HttpRequest, token: str) -> HttpResponse:
    link = with_access(ShareLink.objects.filter(token=token)).only(*FIELDS).first()
    if link is None or not secrets.compare_digest(link.token.encode(), token.encode()):
        return HttpResponseNotFound("Not found.", content_type="text/plain")
    ttl = redirect_ttl(link, timezone.now(), settings.LINKS_PERMALINK_TTL)
    if ttl is None:
        return gone()
    if not link.allowed:  # type: ignore[attr-defined]  # the owner lost access (owners.py)
        log.info("permalink of link %s answered 410: its owner's access ended", link.id)
        return gone()
    if link.bucket != settings.AWS_STORAGE_BUCKET_NAME:
        # Signing link.key in another bucket would hand out a different object.
        log.warning(
            "permalink of link %s answered 410: its bucket %r is no longer configured "
            "(DJANGO_AWS_STORAGE_BUCKET_NAME is %r)",
            link.id,
            link.bucket,
            settings.AWS_STORAGE_BUCKET_NAME,
        )
        return gone()
    ShareLink.objects.filter(id=link.id).update(hits=F("hits") + 1)
    response = HttpResponse(status=302)
    response["Location"] = sign(link.key, ttl, filename=link.filename).url
    return no_store(response)


def gone() -> HttpResponse:
    return no_store(HttpResponseGone("This link is no longer available.", "text/plain"))


def no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
