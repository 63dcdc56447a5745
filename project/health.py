"""GET /healthz: 200 when the database, the broker and the media bucket answer."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    from project.celery import app

    with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.LINKS_HEALTH_TIMEOUT)


def check_media_bucket() -> None:
    from tasks.s3clients import media_client

    media_client().head_bucket(Bucket=settings.AWS_STORAGE_BUCKET_NAME)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "media_bucket": check_media_bucket,
}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as error:
            results[name] = f"failed: {type(error).__name__}"
    failing = [name for name, result in results.items() if result != "ok"]
    status = 503 if failing else 200
    return JsonResponse(
        {"status": "ok" if not failing else "failing", "failing": failing, "checks": results},
        status=status,
    )
