"""Where a private bucket's links point, and how a custom domain in front of it is signed."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class CustomDomainSigning(StrEnum):
    CLOUDFRONT = "cloudfront"  # CloudFront signed URLs with a key pair
    S3_HOST = "s3-host"  # S3 itself answers on the custom host: SigV4 for that host


class SigningConfigError(ValueError):
    pass


@dataclass(frozen=True)
class BucketTarget:
    bucket: str
    region: str
    endpoint_url: str | None = None
    addressing_style: str = "auto"
    custom_domain: str | None = None
    custom_domain_signing: CustomDomainSigning | None = None
    custom_domain_secure: bool = True

    def __post_init__(self) -> None:
        if not self.bucket:
            raise SigningConfigError("the media bucket name is empty")
        if not self.region:
            raise SigningConfigError("the region is empty: set DJANGO_AWS_S3_REGION_NAME")
        if self.addressing_style not in {"auto", "virtual", "path"}:
            raise SigningConfigError(
                f"addressing style must be auto, virtual or path, not {self.addressing_style!r}"
            )
        if self.custom_domain and self.custom_domain_signing is None:
            raise SigningConfigError(
                f"the private media bucket is behind the custom domain {self.custom_domain!r} "
                "but nothing can sign links for it: configure a CloudFront key "
                "(DJANGO_AWS_CLOUDFRONT_KEY_ID and DJANGO_AWS_CLOUDFRONT_KEY) or set "
                "DJANGO_AWS_MEDIA_CUSTOM_DOMAIN_SIGNING=s3-host when S3 serves that host"
            )


def media_target(settings: Any) -> BucketTarget:
    """The media bucket's target from settings (django.conf.settings or any object like it)."""
    signing = settings.AWS_MEDIA_CUSTOM_DOMAIN_SIGNING
    if signing is None and settings.AWS_CLOUDFRONT_KEY_ID and settings.AWS_CLOUDFRONT_KEY:
        signing = CustomDomainSigning.CLOUDFRONT
    try:
        mode = CustomDomainSigning(signing) if signing else None
    except ValueError:
        raise SigningConfigError(
            "DJANGO_AWS_MEDIA_CUSTOM_DOMAIN_SIGNING must be 'cloudfront' or 's3-host', "
            f"not {signing!r}"
        ) from None
    if mode is CustomDomainSigning.CLOUDFRONT and not (
        settings.AWS_CLOUDFRONT_KEY_ID and settings.AWS_CLOUDFRONT_KEY
    ):
        raise SigningConfigError(
            "CloudFront signing needs DJANGO_AWS_CLOUDFRONT_KEY_ID and DJANGO_AWS_CLOUDFRONT_KEY"
        )
    return BucketTarget(
        bucket=settings.AWS_STORAGE_BUCKET_NAME,
        region=settings.AWS_S3_REGION_NAME,
        endpoint_url=settings.AWS_S3_ENDPOINT_URL,
        addressing_style=settings.AWS_S3_ADDRESSING_STYLE,
        custom_domain=settings.AWS_MEDIA_CUSTOM_DOMAIN,
        custom_domain_signing=mode if settings.AWS_MEDIA_CUSTOM_DOMAIN else None,
        custom_domain_secure=settings.AWS_S3_SECURE_URLS,
    )
