"""SigV4QueryPresigner's URLs are byte-identical to botocore's, through both of its signers.

botocore presigns through awscrt when that is installed and through its own
Python signer otherwise; the two put the query parameters in different orders,
so every comparison is made against both (``match_crt`` picks the order).
No services needed.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote

import boto3
import botocore
import botocore.auth
import pytest
from botocore.config import Config
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from signing import sigv4
from signing.sigv4 import Credentials, SigV4QueryPresigner

try:
    import botocore.crt.auth as crt_auth
except ImportError:  # awscrt not installed: only the Python signer exists
    crt_auth = None

NEEDS_CRT = pytest.mark.skipif(
    crt_auth is None or not botocore.auth.HAS_CRT, reason="awscrt not installed or disabled"
)
SIGNERS = [pytest.param(False, id="python"), pytest.param(True, id="crt", marks=NEEDS_CRT)]
BOTOCORE_DATA = Path(botocore.__file__).parent / "data"

# Variables and files through which botocore's answer could differ from its defaults.
AWS_ENV = [
    "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
    "AWS_S3_DISABLE_MULTIREGION_ACCESS_POINTS",
]

FROZEN = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
KEY_PAIR = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
TOKEN = "IQoJb3JpZ2luX2VjEPT//////////wEaCXVzLWVhc3QtMSJGMEQCIF+abc/def=="
CREDENTIALS = [
    Credentials(*KEY_PAIR),
    Credentials(*KEY_PAIR, token=TOKEN),
    Credentials("test", "test"),
    Credentials("ASIA+odd/key é", "sécret ü ~", token="tok en/+=é~_-."),
]
DISPOSITION = "attachment; filename=\"a b.pdf\"; filename*=UTF-8''%C3%A9t%C3%A9.pdf"

AWS_REGIONS = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "eu-north-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-south-1",
    "sa-east-1",
    "ca-central-1",
    "me-south-1",
    "af-south-1",
    "il-central-1",
    "mx-central-1",
    "ap-southeast-7",
    "eu-newplace-9",
    "us-gov-west-1",
    "us-gov-east-1",
    "cn-north-1",
    "cn-northwest-1",
    "us-iso-east-1",
    "us-isob-east-1",
    "eu-isoe-west-1",
    "us-isof-south-1",
    "eusc-de-east-1",
]
REFUSED_REGIONS = [
    "aws-global",
    "s3-external-1",
    "fips-us-east-1",
    "us-east-1-fips",
    "xx-foo-1",
    "US-EAST-1",
    "local",
    "eu_west_1",
    "",
]
ENDPOINTS = [
    "http://127.0.0.1:4566",
    "https://minio.example:9000",
    "https://minio.example",
    "http://minio.example",
    "https://minio.example:443",
    "http://minio.example:80",
    "https://minio.example/",
    "http://localhost:4566",
    "https://s3.eu-west-1.amazonaws.com",
    "https://storage.example.co.uk:8443",
    "https://10.0.0.7",
    "http://s3.local:9000/",
]
REFUSED_ENDPOINTS = [
    "https://MinIO.Example",
    "https://minio.example/prefix",
    "https://[::1]:9000",
    "https://user:pw@minio.example",
    "https://s3-accelerate.amazonaws.com",
    "https://minio.example:0",
    "https://minio.example:99999",
    "ftp://minio.example",
    "https://minio.example?x=1",
    "https://minio_example",
    "minio.example",
]
CUSTOM_REGIONS = ["us-east-1", "eu-west-1", "auto", "garage", "us-gov-west-1", "cn-north-1"]
STYLES = ["auto", "virtual", "path"]
BUCKETS = [
    "my-bucket",
    "linkdist-media",
    "123",
    "abc",
    "a" * 63,
    "my.bucket",
    "My-Bucket",
    "my_bucket",
    "ab",
    "a",
    "a" * 64,
    "192.168.1.1",
    "bucket-",
    "-bucket",
    "a..b",
    "xn--abc",
    "b-s3alias",
    "b--ol-s3",
    "b--usw2-az1--x-s3",
    "sthree-abc",
    "arn:aws:s3:::x",
    "",
    "bücket",
    "a/b",
]
KEYS = [
    "report.pdf",
    "a b/c d.txt",
    "a+b%20c~d",
    "#hash?query=1&x=y",
    "/leading",
    "//double//slash/",
    "/",
    "..",
    "./a/../b",
    "dir/",
    "emoji 😀/ファイル名.pdf",
    "日本語/テスト",
    "é",
    "tab\there",
    "~!*'();:@&=+$,/?#[]",
    "%2F%25",
    "\x00\x1f\x7f",
    "a" * 1024,
]


@dataclass(frozen=True)
class Case:
    region: str
    endpoint_url: str | None
    style: str
    bucket: str
    key: str
    credentials: Credentials
    params: tuple[tuple[str, str], ...] = ()
    expires_in: int = 3600
    now: datetime = FROZEN

    def presigner(self, match_crt: bool) -> SigV4QueryPresigner:
        return SigV4QueryPresigner(
            region=self.region,
            endpoint_url=self.endpoint_url,
            addressing_style=self.style,
            match_crt=match_crt,
        )

    def ours(self, match_crt: bool) -> str:
        return self.presigner(match_crt).presign_get(
            self.bucket,
            self.key,
            expires_in=self.expires_in,
            credentials=self.credentials,
            params=dict(self.params),
            now=self.now,
        )

    def supported(self) -> bool:
        return self.presigner(False).can_presign(self.bucket, dict(self.params))


@pytest.fixture(scope="module")
def botocore_url() -> Iterator[Any]:
    """botocore's generate_presigned_url for a Case, with a clean environment and frozen clock."""
    with pytest.MonkeyPatch.context() as env:
        for name in AWS_ENV:
            env.delenv(name, raising=False)
        env.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        session = boto3.session.Session()

        @functools.cache
        def client(region: str, endpoint_url: str | None, style: str, creds: Credentials) -> Any:
            return session.client(
                "s3",
                region_name=region,
                endpoint_url=endpoint_url,
                aws_access_key_id=creds.access_key,
                aws_secret_access_key=creds.secret_key,
                aws_session_token=creds.token,
                config=Config(signature_version="s3v4", s3={"addressing_style": style}),
            )

        def presign(case: Case, crt: bool) -> str:
            c = client(case.region, case.endpoint_url, case.style, case.credentials)
            with frozen_botocore(case.now), botocore_signer(crt):
                return str(
                    c.generate_presigned_url(
                        "get_object",
                        Params={"Bucket": case.bucket, "Key": case.key, **dict(case.params)},
                        ExpiresIn=case.expires_in,
                    )
                )

        yield presign


class frozen_botocore:
    """Patch botocore's clock (both signers) to one instant."""

    def __init__(self, now: datetime) -> None:
        utc = now.astimezone(UTC)
        self._patches = [mock.patch("botocore.auth.get_current_datetime", return_value=utc)]
        if crt_auth is not None:
            self._patches.append(
                mock.patch("botocore.crt.auth.get_current_datetime", return_value=utc)
            )

    def __enter__(self) -> None:
        for patch in self._patches:
            patch.start()

    def __exit__(self, *exc: object) -> None:
        for patch in self._patches:
            patch.stop()


def botocore_signer(crt: bool) -> Any:
    """Make botocore presign with its CRT signer or its Python one."""
    if crt:
        assert crt_auth is not None
        signer = crt_auth.CrtS3SigV4QueryAuth
    else:
        signer = botocore.auth.S3SigV4QueryAuth
    return mock.patch.dict(botocore.auth.AUTH_TYPE_MAPS, {"s3v4-query": signer})


def assert_identical(case: Case, botocore_url: Any, crt: bool) -> None:
    assert case.ours(crt) == botocore_url(case, crt), case


def describe(case: Case) -> None:
    """Hypothesis statistics: which kinds of URL the generated cases covered."""
    url = case.ours(False)
    host = url.split("/")[2]
    event(f"endpoint={'custom' if case.endpoint_url else 'aws'} style={case.style}")
    event("virtual host" if host.startswith(case.bucket + ".") else "bucket in path")
    event(f"global host={host.endswith('.s3.amazonaws.com') or host == 's3.amazonaws.com'}")
    event(f"token={case.credentials.token is not None} overrides={len(case.params)}")


# ---- strategies ------------------------------------------------------------

special_text = st.text(
    alphabet=st.sampled_from(list(" +%~#?=&/;:@$,!*'()[]\"\\^`{|}<>é日本😀\u00a0\t.-_aZ09")),
    min_size=1,
    max_size=40,
)
keys = st.one_of(
    st.sampled_from(KEYS),
    st.text(min_size=1, max_size=60),
    special_text,
    st.builds(lambda a, b: f"{a}/{b}", special_text, st.text(max_size=20)),
    st.builds(lambda n, k: "/" * n + k, st.integers(1, 3), special_text),
)
header_values = st.one_of(
    st.sampled_from([DISPOSITION, "inline", "", "text/plain; charset=utf-8", "image/png"]),
    st.text(max_size=60),
    special_text,
)
overrides = st.lists(
    st.tuples(st.sampled_from(sorted(sigv4.OVERRIDE_PARAMS)), header_values),
    max_size=2,
    unique_by=lambda pair: pair[0],
).map(tuple)
instants = st.datetimes(
    min_value=datetime(2001, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5))]),
)
good_buckets = st.one_of(
    st.sampled_from(BUCKETS[:8]),
    st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True).filter(
        lambda b: "--" not in b
    ),
    st.from_regex(r"[a-zA-Z0-9._-]{1,70}", fullmatch=True),
)
aws_places = st.tuples(st.sampled_from(AWS_REGIONS), st.none())
custom_places = st.tuples(st.sampled_from(CUSTOM_REGIONS), st.sampled_from(ENDPOINTS))


@st.composite
def cases(
    draw: st.DrawFn,
    places: st.SearchStrategy[tuple[str, str | None]],
    buckets: st.SearchStrategy[str],
) -> Case:
    region, endpoint_url = draw(places)
    return Case(
        region=region,
        endpoint_url=endpoint_url,
        style=draw(st.sampled_from(STYLES)),
        bucket=draw(buckets),
        key=draw(keys),
        credentials=draw(st.sampled_from(CREDENTIALS)),
        params=draw(overrides),
        expires_in=draw(st.integers(1, sigv4.MAX_EXPIRES_IN)),
        now=draw(instants),
    )


supported_cases = cases(st.one_of(aws_places, custom_places), good_buckets).filter(Case.supported)
any_cases = cases(
    st.one_of(
        aws_places,
        custom_places,
        st.tuples(st.sampled_from(REFUSED_REGIONS), st.none()),
        st.tuples(
            st.sampled_from(CUSTOM_REGIONS + REFUSED_REGIONS),
            st.sampled_from(REFUSED_ENDPOINTS + ENDPOINTS),
        ),
    ),
    st.one_of(st.sampled_from(BUCKETS), good_buckets, st.text(max_size=10)),
)
PROPERTY = settings(
    max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


# ---- properties -------------------------------------------------------------


@PROPERTY
@given(case=supported_cases)
def test_identical_to_botocore_python_signer(botocore_url: Any, case: Case) -> None:
    describe(case)
    assert_identical(case, botocore_url, crt=False)


@NEEDS_CRT
@PROPERTY
@given(case=supported_cases)
def test_identical_to_botocore_crt_signer(botocore_url: Any, case: Case) -> None:
    assert_identical(case, botocore_url, crt=True)


@settings(max_examples=600, deadline=None)
@given(case=any_cases)
def test_never_a_url_that_botocore_would_not_give(botocore_url: Any, case: Case) -> None:
    """Whatever is thrown at it, either it declines or it matches both signers."""
    if not case.supported():
        with pytest.raises(ValueError, match="use botocore"):
            case.ours(False)
        return
    assert_identical(case, botocore_url, crt=False)
    if crt_auth is not None:
        assert_identical(case, botocore_url, crt=True)


@settings(max_examples=2000, deadline=None)
@given(text=st.text(max_size=80))
def test_quoting_equals_urllib(text: str) -> None:
    assert sigv4.quote_path(text) == quote(text, safe="/~")
    assert sigv4.quote_query(text) == quote(text, safe="-_.~")


# ---- explicit cases -----------------------------------------------------------


def case(**fields: Any) -> Case:
    base: dict[str, Any] = {
        "region": "us-east-1",
        "endpoint_url": None,
        "style": "auto",
        "bucket": "my-bucket",
        "key": "reports/q1.pdf",
        "credentials": CREDENTIALS[0],
    }
    return Case(**{**base, **fields})


EXAMPLES = {
    # real AWS hosts
    "us-east-1 auto: global virtual host": case(),
    "us-east-1 virtual": case(style="virtual"),
    "us-east-1 path: s3.amazonaws.com": case(style="path"),
    "eu-west-1 auto: still the global host": case(region="eu-west-1"),
    "eu-west-1 virtual: regional": case(region="eu-west-1", style="virtual"),
    "eu-west-1 path": case(region="eu-west-1", style="path"),
    "ap-southeast-2 auto": case(region="ap-southeast-2"),
    "ap-southeast-2 virtual": case(region="ap-southeast-2", style="virtual"),
    "us-gov-west-1 auto: regional": case(region="us-gov-west-1"),
    "cn-north-1 virtual": case(region="cn-north-1", style="virtual"),
    "eu-west-1 auto, dotted bucket: regional path": case(region="eu-west-1", bucket="my.bucket"),
    "eu-west-1 auto, upper-case bucket: global path": case(region="eu-west-1", bucket="My-Bucket"),
    "eu-west-1 auto, 2-char bucket: global path": case(region="eu-west-1", bucket="ab"),
    "eu-west-1 virtual, underscore bucket: path": case(
        region="eu-west-1", style="virtual", bucket="my_bucket"
    ),
    # custom endpoints
    "localstack path": case(endpoint_url="http://127.0.0.1:4566", style="path"),
    "localstack auto is path": case(endpoint_url="http://127.0.0.1:4566"),
    "IP endpoint virtual is path": case(endpoint_url="http://127.0.0.1:4566", style="virtual"),
    "minio with port, virtual": case(endpoint_url="https://minio.example:9000", style="virtual"),
    "minio with port, path": case(endpoint_url="https://minio.example:9000", style="path"),
    "minio without port": case(endpoint_url="https://minio.example", style="virtual"),
    "explicit default port is kept in the URL": case(endpoint_url="https://minio.example:443"),
    "http default port": case(endpoint_url="http://minio.example:80", style="virtual"),
    "R2-style region auto": case(region="auto", endpoint_url="https://acct.r2.example.com"),
    # keys
    **{f"key {key[:24]!r}": case(key=key) for key in KEYS},
    # session token, overrides, TTL
    "session token": case(credentials=CREDENTIALS[1]),
    "odd access key and token": case(credentials=CREDENTIALS[3]),
    "content-disposition": case(params=(("ResponseContentDisposition", DISPOSITION),)),
    "both overrides, type first": case(
        params=(
            ("ResponseContentType", "text/plain; charset=utf-8"),
            ("ResponseContentDisposition", DISPOSITION),
        )
    ),
    "both overrides, token, path style": case(
        style="path",
        credentials=CREDENTIALS[1],
        params=(("ResponseContentDisposition", "inline"), ("ResponseContentType", "é/ü+x")),
    ),
    "empty override": case(params=(("ResponseContentType", ""),)),
    "TTL 1": case(expires_in=1),
    "TTL 7 days": case(expires_in=604800),
    "instant in another zone": case(
        now=datetime(2024, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    ),
    "instant .999999": case(now=datetime(2030, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
}


@pytest.mark.parametrize("crt", SIGNERS)
@pytest.mark.parametrize("example", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_example(botocore_url: Any, example: Case, crt: bool) -> None:
    assert example.supported()
    assert_identical(example, botocore_url, crt)


def test_example_urls_look_as_expected() -> None:
    assert (
        EXAMPLES["eu-west-1 auto: still the global host"]
        .ours(False)
        .startswith(
            "https://my-bucket.s3.amazonaws.com/reports/q1.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240506%2Feu-west-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20240506T070809Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature="
        )
    )
    assert "&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&" in case().ours(True)


@pytest.mark.parametrize("crt", SIGNERS)
@pytest.mark.parametrize("style", STYLES)
def test_every_region_in_botocore_data(botocore_url: Any, style: str, crt: bool) -> None:
    """Each region botocore knows for S3 is refused or signed identically."""
    data = json.loads((BOTOCORE_DATA / "endpoints.json").read_text())
    regions = {
        region
        for partition in data["partitions"]
        for region in [*partition["regions"], *partition["services"]["s3"].get("endpoints", {})]
    }
    signed = 0
    for region in sorted(regions):
        example = case(region=region, style=style)
        if example.supported():
            assert_identical(example, botocore_url, crt)
            signed += 1
    assert signed >= 45


def test_partition_table_follows_botocore() -> None:
    data = json.loads((BOTOCORE_DATA / "partitions.json").read_text())
    suffixes = {p["id"]: p["outputs"]["dnsSuffix"] for p in data["partitions"]}
    for name, _, suffix in sigv4.PARTITIONS:
        assert suffixes[name] == suffix
    ruleset = json.loads(
        gzip.decompress(
            (BOTOCORE_DATA / "s3" / "2006-03-01" / "endpoint-rule-set-1.json.gz").read_bytes()
        )
    )
    assert "AWS::S3::UseGlobalEndpoint" in json.dumps(ruleset["parameters"])


# ---- refusals -------------------------------------------------------------------


@pytest.mark.parametrize("region", REFUSED_REGIONS)
def test_refused_regions(region: str) -> None:
    assert not SigV4QueryPresigner(region=region).can_presign("my-bucket")


@pytest.mark.parametrize("endpoint_url", REFUSED_ENDPOINTS)
def test_refused_endpoints(endpoint_url: str) -> None:
    presigner = SigV4QueryPresigner(region="us-east-1", endpoint_url=endpoint_url)
    assert not presigner.can_presign("my-bucket")


@pytest.mark.parametrize("endpoint_url", ["https://minio.example", "http://127.0.0.1:4566"])
def test_fips_region_with_endpoint_refused(endpoint_url: str) -> None:
    presigner = SigV4QueryPresigner(region="fips-us-east-1", endpoint_url=endpoint_url)
    assert not presigner.can_presign("my-bucket")


@pytest.mark.parametrize(
    "bucket",
    [
        "b--usw2-az1--x-s3",
        "b--x-s3",
        "b--op-s3",
        "arn:aws:s3:us-east-1:123:accesspoint/ap",
        "",
        "a/b",
        "bücket",
        "a" * 256,
    ],
)
def test_refused_buckets(bucket: str) -> None:
    assert not SigV4QueryPresigner(region="us-east-1").can_presign(bucket)


def test_dotted_bucket_virtual_on_custom_endpoint_refused() -> None:
    for endpoint_url in ["http://minio.example", "https://minio.example", "http://10.0.0.1"]:
        presigner = SigV4QueryPresigner(
            region="us-east-1", endpoint_url=endpoint_url, addressing_style="virtual"
        )
        assert not presigner.can_presign("my.bucket")
        assert presigner.can_presign("my-bucket")


def test_unsupported_params_refused() -> None:
    presigner = SigV4QueryPresigner(region="us-east-1")
    assert presigner.can_presign("b-b", {"ResponseContentType": "text/plain"})
    assert not presigner.can_presign("b-b", {"Range": "bytes=0-1"})
    assert not presigner.can_presign("b-b", {"ResponseContentType": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="use botocore"):
        presigner.presign_get(
            "b-b", "k", expires_in=1, credentials=CREDENTIALS[0], params={"VersionId": "1"}
        )


@pytest.mark.parametrize("expires_in", [0, -1, 604801, 3.5, True, "60"])
def test_bad_ttl(expires_in: Any) -> None:
    with pytest.raises(ValueError, match="expires_in"):
        case(expires_in=expires_in).ours(False)


@pytest.mark.parametrize(
    "credentials",
    [
        Credentials("", "s"),
        Credentials("a", ""),
        Credentials("a", "s", token=""),
    ],
)
def test_bad_credentials(credentials: Credentials) -> None:
    with pytest.raises(ValueError, match="credentials"):
        case(credentials=credentials).ours(False)


def test_bad_key_and_naive_now_and_style() -> None:
    with pytest.raises(ValueError, match="key"):
        case(key="").ours(False)
    with pytest.raises(ValueError, match="timezone"):
        case(now=datetime(2024, 1, 1)).ours(False)
    with pytest.raises(ValueError, match="addressing_style"):
        SigV4QueryPresigner(region="us-east-1", addressing_style="dns")


# ---- clock, caches, signer detection ----------------------------------------------


def test_default_now_is_the_current_second(botocore_url: Any) -> None:
    instant = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
    presigner = case().presigner(False)
    with mock.patch.object(sigv4.time, "time", return_value=instant.timestamp() + 0.75):
        url = presigner.presign_get("my-bucket", "k", expires_in=60, credentials=CREDENTIALS[0])
    assert url == botocore_url(case(key="k", expires_in=60, now=instant), False)


def test_signing_key_cached_per_day_and_credentials() -> None:
    presigner = case().presigner(False)
    with mock.patch.object(sigv4, "signing_key", wraps=sigv4.signing_key) as derive:
        for second in range(5):
            for creds in CREDENTIALS[:2]:
                presigner.presign_get(
                    "my-bucket",
                    "k",
                    expires_in=60,
                    credentials=creds,
                    now=FROZEN + timedelta(seconds=second),
                )
        assert derive.call_count == 2
        presigner.presign_get(
            "my-bucket",
            "k",
            expires_in=60,
            credentials=CREDENTIALS[0],
            now=FROZEN + timedelta(days=1),
        )
        assert derive.call_count == 3


def test_caches_stay_bounded() -> None:
    presigner = case().presigner(False)
    for i in range(1000):
        creds = Credentials(f"AK{i}", "s")
        presigner.presign_get(f"bucket-{i}", "k", expires_in=60, credentials=creds, now=FROZEN)
    assert len(presigner._locations) <= 256
    assert len(presigner._day_keys) <= 256


@NEEDS_CRT
def test_detects_which_signer_botocore_uses() -> None:
    assert sigv4.botocore_uses_crt()
    assert SigV4QueryPresigner(region="us-east-1").match_crt
    with botocore_signer(crt=False):
        assert not sigv4.botocore_uses_crt()
        assert not SigV4QueryPresigner(region="us-east-1").match_crt


SUBPROCESS_SCRIPT = """
import json, sys
from datetime import datetime
from unittest import mock
import boto3, botocore.auth
from botocore.config import Config
assert "crt" not in botocore.auth.AUTH_TYPE_MAPS["s3v4-query"].__module__
out = []
for c in json.load(sys.stdin):
    now = datetime.fromisoformat(c["now"])
    client = boto3.client("s3", region_name=c["region"], endpoint_url=c["endpoint_url"],
        aws_access_key_id=c["credentials"]["access_key"],
        aws_secret_access_key=c["credentials"]["secret_key"],
        aws_session_token=c["credentials"]["token"],
        config=Config(signature_version="s3v4", s3={"addressing_style": c["style"]}))
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        out.append(client.generate_presigned_url("get_object",
            Params={"Bucket": c["bucket"], "Key": c["key"], **dict(c["params"])},
            ExpiresIn=c["expires_in"]))
json.dump(out, sys.stdout)
"""


def test_python_signer_patch_equals_boto_disable_crt() -> None:
    """The in-process switch to botocore's Python signer gives what BOTO_DISABLE_CRT gives."""
    chosen = [
        EXAMPLES[name]
        for name in [
            "us-east-1 auto: global virtual host",
            "eu-west-1 virtual: regional",
            "minio with port, virtual",
            "localstack path",
            "both overrides, token, path style",
            "odd access key and token",
            "instant in another zone",
        ]
    ]
    payload = []
    for example in chosen:
        fields = asdict(example)
        fields["now"] = example.now.astimezone(UTC).isoformat()
        payload.append(fields)
    env = {k: v for k, v in os.environ.items() if k not in AWS_ENV}
    env.update(
        BOTO_DISABLE_CRT="true",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
    )
    result = subprocess.run(
        [sys.executable, "-c", SUBPROCESS_SCRIPT],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    assert json.loads(result.stdout) == [example.ours(False) for example in chosen]


def test_params_mapping_order_is_kept() -> None:
    class Ordered(Mapping[str, str]):
        def __init__(self, pairs: list[tuple[str, str]]) -> None:
            self._pairs = pairs

        def __getitem__(self, name: str) -> str:
            return dict(self._pairs)[name]

        def __iter__(self) -> Iterator[str]:
            return iter(name for name, _ in self._pairs)

        def __len__(self) -> int:
            return len(self._pairs)

    pairs = [("ResponseContentType", "a"), ("ResponseContentDisposition", "b")]
    url = (
        case()
        .presigner(False)
        .presign_get(
            "my-bucket",
            "k",
            expires_in=5,
            credentials=CREDENTIALS[0],
            params=Ordered(pairs),
            now=FROZEN,
        )
    )
    assert "?response-content-type=a&response-content-disposition=b&X-Amz-Algorithm" in url


@settings(max_examples=300, deadline=None)
@given(key=st.binary(max_size=200), message=st.binary(max_size=300))
def test_hmac_from_pads_equals_stdlib(key: bytes, message: bytes) -> None:
    expected = hmac.new(key, message, hashlib.sha256).hexdigest()
    assert sigv4.HmacSha256(key).hexdigest(message) == expected


def test_non_string_bucket_is_refused() -> None:
    assert not SigV4QueryPresigner(region="us-east-1").can_presign(["b"])  # type: ignore[arg-type]
