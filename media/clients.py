"""S3 clients for I/O on the media bucket (listing, HEAD, uploads), built from settings."""

from __future__ import annotations

import functools
import os
import re
from typing import Any
from xml.etree import ElementTree

import boto3
import botocore.session
from botocore.config import Config
from botocore.handlers import _handle_200_error

from signing.resolved import PROBE_CREDENTIALS
from signing.target import BucketTarget, media_target


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


# Deadlines and retries of every client for I/O on the media bucket.
IO_CONFIG: dict[str, Any] = {
    "connect_timeout": 5,
    "read_timeout": 30,
    "retries": {"max_attempts": 3, "mode": "standard"},
}


def bucket_client(session: botocore.session.Session) -> Any:
    """A client for I/O on the media bucket, with IO_CONFIG's deadlines and retries."""
    from django.conf import settings

    return s3_client(session, media_target(settings), **IO_CONFIG)


@functools.cache
def media_client() -> Any:
    """A client for I/O on the media bucket (listing, HEAD, uploads), with timeouts."""
    from django.conf import settings

    return bucket_client(boto_session(settings))


def keys_only(session: botocore.session.Session) -> botocore.session.Session:
    """The session, its clients' answers leaving timestamps as the text S3 sent: parsing each
    LastModified (dateutil) is three quarters of the client's CPU on a 1,000-key listing page,
    and an existence check reads only the keys."""
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=str)
    # botocore parses every S3 answer with a body once more, whole, to see whether a 200 is an
    # error (<Error>) in disguise: two fifths of a listing page's CPU. That check is kept, but run
    # after listed_keys has taken the <Contents> out. Handlers of a wildcard event run before
    # those of the operation's, so it is moved from the one to the other.
    session.unregister("before-parse.s3.*", _handle_200_error)
    session.register("before-parse.s3.ListObjectsV2", listed_keys)
    for operation in ("ListObjectsV2", "HeadObject"):  # all that an existence check sends
        session.register(f"before-parse.s3.{operation}", _handle_200_error)
    return session


S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
CONTENTS = re.compile(rb"<Contents>.*?</Contents>", re.DOTALL)


def listed_keys(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """ListObjectsV2 pages for the existence checks: the keys are read by ElementTree (C) and
    botocore parses the page without its <Contents>, which were most of what is left of its
    CPU (~40 ms a page of 1,000). The answer has `Contents` as [{"Key": ...}] only; the keys
    are decoded afterwards as botocore decodes them (EncodingType=url)."""
    body = response_dict.get("body")
    if response_dict.get("status_code") != 200 or not isinstance(body, bytes):
        return
    try:  # the media bucket's answer, which botocore parses with this same expat parser anyway
        root = ElementTree.fromstring(body)  # noqa: S314
    except ElementTree.ParseError:
        return  # cut short: botocore's check (run next) makes it a 500, which is retried
    keys = [item.findtext(f"{S3_NS}Key") for item in root.iterfind(f"{S3_NS}Contents")]
    if not keys:
        return
    customized_response_dict["Contents"] = [{"Key": key} for key in keys]
    response_dict["body"] = CONTENTS.sub(b"", body)


@functools.cache
def existence_client() -> Any:
    """A client for the existence checks (media/existence.py): media_client's settings, but
    LastModified (and every timestamp) is left as text; use media_client for anything else."""
    from django.conf import settings

    return bucket_client(keys_only(boto_session(settings)))


def reset() -> None:
    media_client.cache_clear()
    existence_client.cache_clear()


os.register_at_fork(after_in_child=reset)
