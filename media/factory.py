"""The process's one Signer, built from settings: the strategy for the media bucket's target."""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

import botocore.session

from media import clients as s3clients
from media.clients import boto_session, probe_client, s3_client
from signing.credentials import CredentialSource
from signing.resolved import fast_presigner
from signing.signer import Signer
from signing.strategies import (
    BotocoreStrategy,
    CloudFrontStrategy,
    PresignerStrategy,
    S3HostStrategy,
    Strategy,
)
from signing.target import BucketTarget, CustomDomainSigning, media_target

log = logging.getLogger(__name__)


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


def reset() -> None:
    """Forget the process's signer and media client (settings changed, or a new process)."""
    get_signer.cache_clear()
    s3clients.reset()


os.register_at_fork(after_in_child=get_signer.cache_clear)
