"""The fast presigner signs only where botocore's resolved configuration gives the same URL.

botocore reads environment variables and the shared config file for the endpoint, FIPS,
dual-stack and the us-east-1 endpoint; the S3 client honours them, so the links must too.
Each case sets them, builds the strategy through the project's factory, and compares the
URL bytes with botocore's generate_presigned_url for the same instant.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.config import Config
from django.conf import settings

from media.clients import boto_session, s3_client
from media.factory import build_signer, build_strategy
from signing.resolved import fast_presigner
from signing.sigv4 import Credentials
from signing.strategies import BotocoreStrategy, PresignerStrategy, Strategy
from signing.target import media_target
from tests.helpers import download, settings_like
from tests.test_sigv4_identical import AWS_ENV, FROZEN, frozen_botocore

KEYS = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
KEY = "reports/q1 (final)+é.pdf"
PARAMS = {"ResponseContentDisposition": 'attachment; filename="q1.pdf"'}
MINIO = "https://minio.example:9000"
LOCAL = "http://127.0.0.1:9000"

SetUp = Callable[..., None]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SetUp:
    """A clean AWS environment and config file; the test then sets what it needs."""
    for name in [*AWS_ENV, "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"]:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "aws-config"
    config.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))

    def set_up(env: dict[str, str], config_text: str = "") -> None:
        config.write_text(config_text)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return set_up


def project_settings(region: str, endpoint_url: str | None, style: str) -> SimpleNamespace:
    return settings_like(
        AWS_S3_REGION_NAME=region,
        AWS_S3_ENDPOINT_URL=endpoint_url,
        AWS_S3_ADDRESSING_STYLE=style,
        AWS_STORAGE_BUCKET_NAME="my-bucket",
        AWS_ACCESS_KEY_ID=KEYS[0],
        AWS_SECRET_ACCESS_KEY=KEYS[1],
        AWS_SESSION_TOKEN=None,
        AWS_MEDIA_CUSTOM_DOMAIN=None,
    )


def strategy_for(given: SimpleNamespace) -> Strategy:
    target = media_target(given)
    session = boto_session(given)
    return build_strategy(target, s3_client(session, target), given, session)


def ours(strategy: Strategy) -> str:
    with frozen_botocore(FROZEN):  # botocore's clock, for when it is the one signing
        return strategy.presign(KEY, 3600, PARAMS, Credentials(*KEYS), FROZEN)


def botocores(region: str, endpoint_url: str | None, style: str) -> str:
    client = boto3.session.Session().client(
        "s3",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=KEYS[0],
        aws_secret_access_key=KEYS[1],
        config=Config(signature_version="s3v4", s3={"addressing_style": style}),
    )
    with frozen_botocore(FROZEN):
        return str(
            client.generate_presigned_url(
                "get_object",
                Params={"Bucket": "my-bucket", "Key": KEY, **PARAMS},
                ExpiresIn=3600,
            )
        )


def case(
    env: dict[str, str] | None = None,
    config: str = "",
    *,
    fast: bool,
    origin: str,
    region: str = "us-east-1",
    endpoint_url: str | None = None,
    style: str = "auto",
) -> dict[str, Any]:
    return {
        "env": env or {},
        "config": config,
        "fast": fast,
        "origin": origin,
        "region": region,
        "endpoint_url": endpoint_url,
        "style": style,
    }


AWS_VIRTUAL = "https://my-bucket.s3.amazonaws.com/"
CASES = {
    "nothing set": case(fast=True, origin=AWS_VIRTUAL),
    "AWS_ENDPOINT_URL_S3": case(
        {"AWS_ENDPOINT_URL_S3": LOCAL}, fast=True, origin=f"{LOCAL}/my-bucket/"
    ),
    "AWS_ENDPOINT_URL": case({"AWS_ENDPOINT_URL": MINIO}, fast=True, origin=f"{MINIO}/my-bucket/"),
    "AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL": case(
        {"AWS_ENDPOINT_URL": MINIO, "AWS_ENDPOINT_URL_S3": LOCAL},
        fast=True,
        origin=f"{LOCAL}/my-bucket/",
    ),
    "AWS_ENDPOINT_URL_S3, virtual style": case(
        {"AWS_ENDPOINT_URL_S3": MINIO},
        fast=True,
        origin="https://my-bucket.minio.example:9000/",
        style="virtual",
    ),
    "the project's endpoint over AWS_ENDPOINT_URL_S3": case(
        {"AWS_ENDPOINT_URL_S3": LOCAL},
        fast=True,
        origin="http://127.0.0.1:4566/my-bucket/",
        endpoint_url="http://127.0.0.1:4566",
    ),
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": case(
        {"AWS_ENDPOINT_URL_S3": LOCAL, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
        fast=True,
        origin=AWS_VIRTUAL,
    ),
    "AWS_USE_FIPS_ENDPOINT": case(
        {"AWS_USE_FIPS_ENDPOINT": "true"},
        fast=False,
        origin="https://my-bucket.s3-fips.us-east-1.amazonaws.com/",
    ),
    "AWS_USE_FIPS_ENDPOINT, us-gov-west-1": case(
        {"AWS_USE_FIPS_ENDPOINT": "true"},
        fast=False,
        origin="https://my-bucket.s3-fips.us-gov-west-1.amazonaws.com/",
        region="us-gov-west-1",
    ),
    "AWS_USE_DUALSTACK_ENDPOINT": case(
        {"AWS_USE_DUALSTACK_ENDPOINT": "true"},
        fast=False,
        origin="https://my-bucket.s3.dualstack.us-east-1.amazonaws.com/",
    ),
    "AWS_USE_DUALSTACK_ENDPOINT, eu-west-1 path": case(
        {"AWS_USE_DUALSTACK_ENDPOINT": "true"},
        fast=False,
        origin="https://s3.dualstack.eu-west-1.amazonaws.com/my-bucket/",
        region="eu-west-1",
        style="path",
    ),
    "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT=regional": case(
        {"AWS_S3_US_EAST_1_REGIONAL_ENDPOINT": "regional"},
        fast=False,
        origin="https://my-bucket.s3.us-east-1.amazonaws.com/",
    ),
    "regional us-east-1 changes nothing in eu-west-1": case(
        {"AWS_S3_US_EAST_1_REGIONAL_ENDPOINT": "regional"},
        fast=True,
        origin=AWS_VIRTUAL,
        region="eu-west-1",
    ),
    "FIPS changes nothing on the project's endpoint": case(
        {"AWS_USE_FIPS_ENDPOINT": "true"},
        fast=True,
        origin=f"{MINIO}/my-bucket/",
        endpoint_url=MINIO,
    ),
    "config file: endpoint_url": case(
        config=f"[default]\nendpoint_url = {LOCAL}\n", fast=True, origin=f"{LOCAL}/my-bucket/"
    ),
    "config file: services section": case(
        config=f"[default]\nservices = local\n\n[services local]\ns3 =\n  endpoint_url = {MINIO}\n",
        fast=True,
        origin=f"{MINIO}/my-bucket/",
    ),
    "config file: AWS_PROFILE's endpoint_url": case(
        {"AWS_PROFILE": "other"},
        f"[default]\n\n[profile other]\nendpoint_url = {LOCAL}\n",
        fast=True,
        origin=f"{LOCAL}/my-bucket/",
    ),
    "config file: use_fips_endpoint": case(
        config="[default]\nuse_fips_endpoint = true\n",
        fast=False,
        origin="https://my-bucket.s3-fips.us-east-1.amazonaws.com/",
    ),
    "config file: use_dualstack_endpoint": case(
        config="[default]\nuse_dualstack_endpoint = true\n",
        fast=False,
        origin="https://my-bucket.s3.dualstack.us-east-1.amazonaws.com/",
    ),
    "config file: s3 use_dualstack_endpoint": case(
        config="[default]\ns3 =\n  use_dualstack_endpoint = true\n",
        fast=False,
        origin="https://my-bucket.s3.dualstack.us-east-1.amazonaws.com/",
    ),
    "config file: s3 us_east_1_regional_endpoint": case(
        config="[default]\ns3 =\n  us_east_1_regional_endpoint = regional\n",
        fast=False,
        origin="https://my-bucket.s3.us-east-1.amazonaws.com/",
    ),
    "config file: s3 use_accelerate_endpoint": case(
        config="[default]\ns3 =\n  use_accelerate_endpoint = true\n",
        fast=False,
        origin="https://my-bucket.s3-accelerate.amazonaws.com/",
    ),
    "config file: s3 addressing_style (the project's style wins)": case(
        config="[default]\ns3 =\n  addressing_style = path\n", fast=True, origin=AWS_VIRTUAL
    ),
}


@pytest.mark.parametrize("given", CASES.values(), ids=CASES.keys())
def test_links_are_the_bytes_botocore_signs_in_that_configuration(aws_env, given):
    aws_env(given["env"], given["config"])
    strategy = strategy_for(
        project_settings(given["region"], given["endpoint_url"], given["style"])
    )

    url = ours(strategy)

    assert url == botocores(given["region"], given["endpoint_url"], given["style"])
    assert url.startswith(given["origin"])
    assert isinstance(strategy, PresignerStrategy if given["fast"] else BotocoreStrategy)


def test_the_fallback_is_logged_with_its_reason(aws_env, caplog):
    aws_env({"AWS_USE_FIPS_ENDPOINT": "true"})
    with caplog.at_level(logging.INFO, logger="media.factory"):
        strategy_for(project_settings("us-east-1", None, "auto"))
    assert "signed by botocore" in caplog.text and "FIPS" in caplog.text


def test_a_botocore_that_hides_its_resolved_settings_signs_everything_itself():
    reason = fast_presigner(SimpleNamespace(meta=None), None, "my-bucket")
    assert isinstance(reason, str) and "resolved" in reason


@pytest.mark.s3
def test_links_follow_aws_endpoint_url_s3_to_the_server_that_checks(aws_env, put_object):
    """The issue's example: the endpoint only in the environment; the link must reach it."""
    key = put_object("config/resolved endpoint.txt", b"found through AWS_ENDPOINT_URL_S3")
    aws_env({"AWS_ENDPOINT_URL_S3": settings.AWS_S3_ENDPOINT_URL})
    given = settings_like(AWS_S3_ENDPOINT_URL=None, AWS_S3_ADDRESSING_STYLE="path")

    url = build_signer(given).sign(key, 600).url

    assert url.startswith(f"{settings.AWS_S3_ENDPOINT_URL}/{settings.AWS_STORAGE_BUCKET_NAME}/")
    assert download(url).content == b"found through AWS_ENDPOINT_URL_S3"
