"""django-storages classes for the private media bucket and the static bucket."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from storages.backends.s3 import S3Storage
from storages.utils import clean_name


def _common() -> dict[str, Any]:
    # Region and endpoint always travel together, or signatures are made for the wrong host.
    return {
        "region_name": settings.AWS_S3_REGION_NAME,
        "endpoint_url": settings.AWS_S3_ENDPOINT_URL,
        "addressing_style": settings.AWS_S3_ADDRESSING_STYLE,
        "signature_version": "s3v4",
        "use_ssl": settings.AWS_S3_USE_SSL,
        "url_protocol": "https:" if settings.AWS_S3_SECURE_URLS else "http:",
    }


class MediaStorage(S3Storage):
    """Private media: no ACL, no overwrite, and every URL signed by the project's signer.

    A custom domain is never handed to S3Storage here: it would return unsigned
    URLs. Links for a custom domain come from the signer (CloudFront or S3 host).
    """

    def __init__(self, **overrides: Any) -> None:
        options = {
            **_common(),
            "bucket_name": settings.AWS_STORAGE_BUCKET_NAME,
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": settings.AWS_QUERYSTRING_EXPIRE,
            "file_overwrite": False,
            "custom_domain": None,
            "gzip": False,
        }
        super().__init__(**{**options, **overrides})

    def url(
        self,
        name: str | None,
        parameters: dict[str, str] | None = None,
        expire: int | None = None,
        http_method: str | None = None,
    ) -> str:
        if http_method not in (None, "GET") or parameters:
            return str(super().url(name, parameters, expire, http_method))
        from media.signing import sign

        key = self._normalize_name(clean_name(name or ""))
        return sign(key, expire or self.querystring_expire).url


class StaticStorage(S3Storage):
    """Static files: gzip for text types; behind a custom domain they are public (unsigned)."""

    def __init__(self, **overrides: Any) -> None:
        options = {
            **_common(),
            "bucket_name": settings.AWS_STATIC_BUCKET_NAME,
            "default_acl": None,
            "custom_domain": settings.AWS_S3_CUSTOM_DOMAIN,
            "querystring_auth": not settings.AWS_S3_CUSTOM_DOMAIN,
            "querystring_expire": settings.AWS_QUERYSTRING_EXPIRE,
            "gzip": settings.AWS_IS_GZIPPED,
            "gzip_content_types": settings.GZIP_CONTENT_TYPES,
            "file_overwrite": True,
        }
        super().__init__(**{**options, **overrides})
