"""Wiring: S3 clients and the process's one Signer, built from settings."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

from tasks.signing.credentials import CredentialSource
from tasks.signing.resolved import PROBE_CREDENTIALS, fast_presigner
from tasks.signing.signer import Signer
from tasks.signing.strategies import (
    BotocoreStrategy,
    CloudFrontStrategy,
    PresignerStrategy,
    S3HostStrategy,
    Strategy,
)
from tasks.signing.target import BucketTarget, CustomDomainSigning, SigningConfigError

log = logging.getLogger(__name__)


def media_target(settings: Any) -> BucketTarget:
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


def boto_session(settings: Any) -> botocore.session.Session:
    session = botocore.session.get_session()
    if settings.AWS_ACCESS_KEY_ID:
        session.set_credentials(
            settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY, settings.AWS_SESSION_TOKEN
        )
    return session


def client_args(target: BucketTarget, **config: Any) -> dict[str, Any]:
    return {
        "region_name": target.region,
        "endpoint_url": target.endpoint_url,
        "config": Config(
            signature_version="s3v4", s3={"addressing_style": target.addressing_style}, **config
        ),
    }


def s3_client(session: botocore.session.Session, target: BucketTarget, **config: Any) -> Any:
    return boto3.Session(botocore_session=session).client("s3", **client_args(target, **config))


def probe_client(session: botocore.session.Session, target: BucketTarget) -> Any:
    """A client configured like s3_client, holding throw-away credentials (signs nothing real)."""
    creds = PROBE_CREDENTIALS
    return session.create_client(
        "s3",
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        aws_session_token=creds.token,
        **client_args(target),
    )


def bucket_strategy(
    target: BucketTarget, client: Any, session: botocore.session.Session
) -> Strategy:
    """The fast presigner when it signs what `client` would (as configured), else botocore."""
    fallback = BotocoreStrategy(client, target.bucket)
    presigner = fast_presigner(client, probe_client(session, target), target.bucket)
    if isinstance(presigner, str):
        log.info("links are signed by botocore, not the fast presigner: %s", presigner)
        return fallback
    return PresignerStrategy(presigner, fallback, target.bucket)


def build_strategy(
    target: BucketTarget, client: Any, settings: Any, session: botocore.session.Session
) -> Strategy:
    if not target.custom_domain:
        return bucket_strategy(target, client, session)
    scheme = "https" if target.custom_domain_secure else "http"
    base_url = f"{scheme}://{target.custom_domain}"
    if target.custom_domain_signing is CustomDomainSigning.CLOUDFRONT:
        pem = settings.AWS_CLOUDFRONT_KEY.replace("\\n", "\n").encode()
        return CloudFrontStrategy(base_url, settings.AWS_CLOUDFRONT_KEY_ID, pem)
    return S3HostStrategy(base_url, target.region)


def build_signer(settings: Any, session: botocore.session.Session | None = None) -> Signer:
    target = media_target(settings)
    session = session or boto_session(settings)
    strategy = build_strategy(target, s3_client(session, target), settings, session)
    credentials = CredentialSource(session.get_credentials()) if strategy.uses_credentials else None
    return Signer(strategy, credentials)


@functools.cache
def get_signer() -> Signer:
    from django.conf import settings

    return build_signer(settings)


@functools.cache
def media_client() -> Any:
    """A client for I/O on the media bucket (listing, HEAD, uploads), with timeouts."""
    from django.conf import settings

    target = media_target(settings)
    return s3_client(
        boto_session(settings),
        target,
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 3, "mode": "standard"},
    )


def reset() -> None:
    get_signer.cache_clear()
    media_client.cache_clear()


os.register_at_fork(after_in_child=reset)
