"""Pre-signed S3 GetObject URLs (SigV4 query auth), byte-identical to botocore's.

botocore spends ~150 us per URL resolving endpoints and running event hooks;
here the host layout is worked out once per bucket, the signing key once per
(day, credentials), and each URL costs one SHA-256 and one HMAC-SHA256.

The URLs match what ``boto3.client("s3", region_name=..., endpoint_url=...,
config=Config(signature_version="s3v4", s3={"addressing_style": ...}))
.generate_presigned_url("get_object", ...)`` returns with botocore's default
configuration. Anything this module does not reproduce exactly makes
``can_presign`` answer False, so the caller can fall back to botocore.
Settings that change botocore's answer (``AWS_ENDPOINT_URL(_S3)``, FIPS,
dual-stack, accelerate, ``AWS_S3_US_EAST_1_REGIONAL_ENDPOINT=regional`` and
their config-file forms) are not read here: ``signing.resolved`` builds
this presigner from what botocore's client resolved, and proves it equal.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

MAX_EXPIRES_IN = 604800  # 7 days: SigV4's limit for a pre-signed URL
ADDRESSING_STYLES = ("auto", "virtual", "path")
# botocore GetObject parameter -> query parameter; sorted by query name.
OVERRIDE_PARAMS = {
    "ResponseContentDisposition": "response-content-disposition",
    "ResponseContentType": "response-content-type",
}

# (partition, region pattern, DNS suffix); regions botocore resolves plainly.
PARTITIONS = (
    ("aws", re.compile(r"(?:us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]+"), "amazonaws.com"),
    ("aws-cn", re.compile(r"cn-[a-z]+-[0-9]+"), "amazonaws.com.cn"),
    ("aws-us-gov", re.compile(r"us-gov-[a-z]+-[0-9]+"), "amazonaws.com"),
    ("aws-iso", re.compile(r"us-iso-[a-z]+-[0-9]+"), "c2s.ic.gov"),
    ("aws-iso-b", re.compile(r"us-isob-[a-z]+-[0-9]+"), "sc2s.sgov.gov"),
    ("aws-iso-e", re.compile(r"eu-isoe-[a-z]+-[0-9]+"), "cloud.adc-e.uk"),
    ("aws-iso-f", re.compile(r"us-isof-[a-z]+-[0-9]+"), "csp.hci.ic.gov"),
    ("aws-eusc", re.compile(r"eusc-de-[a-z]+-[0-9]+"), "amazonaws.eu"),
)
# With a custom endpoint any plain region name is only a signing scope, except
# the pseudo-regions that botocore maps to another signing region.
CUSTOM_REGION_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
PSEUDO_REGIONS = ("aws-global", "s3-external-1")

BUCKET_RE = re.compile(r"[A-Za-z0-9._-]{1,255}")  # botocore's bucket-name check
HOST_LABEL_RE = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
IPV4_RE = re.compile(r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}")
DNS_NAME_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")
ENDPOINT_RE = re.compile(r"(https?)://([^/:?#@\[\]]+)(?::([1-9][0-9]{0,4}))?/?")
DEFAULT_PORTS = {"http": "80", "https": "443"}

ALGORITHM = "AWS4-HMAC-SHA256"
UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
SAFE_PATH_RE = re.compile(r"[A-Za-z0-9_.~/-]*")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_CACHE_SIZE = 256


def _quote_table(safe: bytes) -> tuple[str, ...]:
    return tuple(chr(byte) if byte in safe else f"%{byte:02X}" for byte in range(256))


_PATH_TABLE = _quote_table(UNRESERVED + b"/")
_QUERY_TABLE = _quote_table(UNRESERVED)


def quote_path(text: str) -> str:
    """urllib.parse.quote(text, safe="/~"), as botocore quotes a key, only faster."""
    if SAFE_PATH_RE.fullmatch(text):
        return text
    return text.encode("utf-8").decode("latin-1").translate(_PATH_TABLE)


def quote_query(text: str) -> str:
    """urllib.parse.quote(text, safe="-_.~"), as botocore quotes a query value."""
    return text.encode("utf-8").decode("latin-1").translate(_QUERY_TABLE)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.digest(key, message.encode("utf-8"), "sha256")


def signing_key(secret_key: str, date: str, region: str) -> bytes:
    key = _hmac(f"AWS4{secret_key}".encode(), date)
    return _hmac(_hmac(_hmac(key, region), "s3"), "aws4_request")


class HmacSha256:
    """HMAC-SHA256 with one fixed key: the padded key blocks are hashed once.

    RFC 2104 by hand; per message it costs two sha256 copies, half of what
    hmac.digest spends setting up OpenSSL's HMAC for every call.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        block = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in block))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in block))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def botocore_uses_crt() -> bool:
    """Whether botocore in this process presigns through awscrt."""
    try:
        from botocore.auth import AUTH_TYPE_MAPS
    except ImportError:
        return False
    signer = AUTH_TYPE_MAPS.get("s3v4-query")
    return signer is not None and signer.__module__.startswith("botocore.crt")


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


class Endpoint(NamedTuple):
    scheme: str
    authority: str  # host[:port] as written in URLs
    host_header: str  # host[:port] as signed: the default port is dropped
    is_ip: bool


class Location(NamedTuple):
    url_prefix: str  # scheme://authority/path-to-the-key/
    canonical_head: str  # "GET\n/path-to-the-key/"
    canonical_tail: str  # "\nhost:...\n\nhost\nUNSIGNED-PAYLOAD"


class DayKeys(NamedTuple):
    hmac: HmacSha256
    auth_head: str  # "X-Amz-Algorithm=...&X-Amz-Credential=...&X-Amz-Date="
    token_param: str  # "&X-Amz-Security-Token=..." or ""


class AuthQuery(NamedTuple):
    day: DayKeys | None
    stamp: Stamp | None
    expires_in: int
    canonical: str  # sorted, as signed
    url: str  # in the order botocore writes them


class Stamp(NamedTuple):
    seconds: int
    amz_date: str
    date: str
    string_to_sign_head: str


def parse_endpoint(url: str) -> Endpoint | None:
    """A plain ``scheme://host[:port][/]`` endpoint, or None when not handled here."""
    match = ENDPOINT_RE.fullmatch(url)
    if match is None:
        return None
    scheme, host, port = match.groups()
    is_ip = IPV4_RE.fullmatch(host) is not None
    if not is_ip and not DNS_NAME_RE.fullmatch(host):
        return None
    if any(label.startswith("s3-accelerate") for label in host.split(".")):
        return None
    if port is not None and int(port) > 65535:
        return None
    authority = host if port is None else f"{host}:{port}"
    host_header = host if port in (None, DEFAULT_PORTS[scheme]) else authority
    return Endpoint(scheme, authority, host_header, is_ip)


def aws_partition(region: str) -> tuple[str, str] | None:
    """(partition, DNS suffix) for a region botocore resolves plainly, else None."""
    for name, pattern, suffix in PARTITIONS:
        if pattern.fullmatch(region):
            return name, suffix
    return None


def regional_host(region: str, partition: tuple[str, str] | None) -> str | None:
    if partition is None:
        return None
    if region == "us-east-1":
        return "s3.amazonaws.com"  # botocore's us_east_1_regional_endpoint=legacy
    return f"s3.{region}.{partition[1]}"


def virtual_hostable(bucket: str) -> bool:
    """botocore's isVirtualHostableS3Bucket without subdomains."""
    return len(bucket) >= 3 and bucket == bucket.lower() and bool(HOST_LABEL_RE.fullmatch(bucket))


def _location(scheme: str, host: str, path: str, host_header: str | None = None) -> Location:
    signed_host = host if host_header is None else host_header
    return Location(
        f"{scheme}://{host}{path}",
        f"GET\n{path}",
        f"\nhost:{signed_host}\n\nhost\nUNSIGNED-PAYLOAD",
    )


class SigV4QueryPresigner:
    """Pre-signs GetObject URLs for one (region, endpoint, addressing style).

    ``match_crt`` picks the query order: botocore's awscrt signer writes
    X-Amz-SignedHeaders before X-Amz-Expires, its Python signer after (the
    signature is the same). None follows whichever botocore here uses.
    """

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None = None,
        addressing_style: str = "auto",
        match_crt: bool | None = None,
    ) -> None:
        if addressing_style not in ADDRESSING_STYLES:
            raise ValueError(f"addressing_style must be one of {ADDRESSING_STYLES}")
        self.region = region
        self.endpoint_url = endpoint_url
        self.addressing_style = addressing_style
        self.match_crt = botocore_uses_crt() if match_crt is None else match_crt
        self._endpoint = None if endpoint_url is None else parse_endpoint(endpoint_url)
        partition = aws_partition(region) if endpoint_url is None else None
        self._regional_host = regional_host(region, partition)
        self._global_when_label = (
            addressing_style == "auto" and partition is not None and partition[0] == "aws"
        )
        self._supported = self._region_supported()
        self._locations: dict[str, Location | None] = {}
        self._day_keys: dict[tuple[Credentials, str], DayKeys] = {}
        self._stamp = Stamp(-1, "", "", "")
        self._last_auth = AuthQuery(None, None, 0, "", "")

    def _region_supported(self) -> bool:
        if self.endpoint_url is None:
            return self._regional_host is not None
        return (
            self._endpoint is not None
            and CUSTOM_REGION_RE.fullmatch(self.region) is not None
            and "fips" not in self.region
            and self.region not in PSEUDO_REGIONS
        )

    def can_presign(self, bucket: str, params: Mapping[str, str] | None = None) -> bool:
        """False when botocore must sign this one (it would build another URL)."""
        if params and not all(
            name in OVERRIDE_PARAMS and isinstance(value, str) for name, value in params.items()
        ):
            return False
        return self._supported and self._location(bucket) is not None

    def presign_get(
        self,
        bucket: str,
        key: str,
        *,
        expires_in: int,
        credentials: Credentials,
        params: Mapping[str, str] | None = None,
        now: datetime | None = None,
        checked: bool = False,
    ) -> str:
        """A pre-signed GET URL. checked=True: the caller (the Signer) has checked the key and
        expires_in already, so they are not checked twice per URL."""
        location = self._location(bucket) if self._supported else None
        if location is None:
            raise ValueError(f"cannot presign for bucket {bucket!r} here: use botocore")
        if not checked:
            _check_request(key, expires_in)
        stamp = self._stamp_for(now)
        day = self._day_keys_for(credentials, stamp.date)
        auth = self._auth_query(day, stamp, expires_in)
        canonical_query, url_query = auth.canonical, auth.url
        if params:
            overrides = _override_pairs(params)
            url_query = "".join(f"{n}={v}&" for n, v in overrides) + url_query
            canonical_query += "".join(f"&{n}={v}" for n, v in sorted(overrides))
        path = quote_path(key)
        canonical = f"{location.canonical_head}{path}\n{canonical_query}{location.canonical_tail}"
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        signature = day.hmac.hexdigest((stamp.string_to_sign_head + digest).encode())
        return f"{location.url_prefix}{path}?{url_query}&X-Amz-Signature={signature}"

    def _auth_query(self, day: DayKeys, stamp: Stamp, expires_in: int) -> AuthQuery:
        """The X-Amz-* parameters, canonical and URL order; reused while they repeat."""
        last = self._last_auth
        if last.day is day and last.stamp is stamp and last.expires_in == expires_in:
            return last
        expires = str(expires_in)
        head = f"{day.auth_head}{stamp.amz_date}&X-Amz-"
        canonical = f"{head}Expires={expires}{day.token_param}&X-Amz-SignedHeaders=host"
        if self.match_crt:
            url = f"{head}SignedHeaders=host&X-Amz-Expires={expires}{day.token_param}"
        else:
            url = f"{head}Expires={expires}&X-Amz-SignedHeaders=host{day.token_param}"
        self._last_auth = AuthQuery(day, stamp, expires_in, canonical, url)
        return self._last_auth

    def _location(self, bucket: str) -> Location | None:
        if not isinstance(bucket, str):
            return None
        try:
            return self._locations[bucket]
        except KeyError:
            pass
        location = self._resolve(bucket)
        if len(self._locations) >= _CACHE_SIZE:
            self._locations.clear()
        self._locations[bucket] = location
        return location

    def _resolve(self, bucket: str) -> Location | None:
        if not BUCKET_RE.fullmatch(bucket) or "--" in bucket:
            return None  # ARNs, access points, S3 Express / Outposts names
        if self._endpoint is not None:
            return self._custom_location(self._endpoint, bucket)
        return self._aws_location(bucket)

    def _custom_location(self, endpoint: Endpoint, bucket: str) -> Location | None:
        # botocore forces path style on custom endpoints unless told "virtual".
        if self.addressing_style == "virtual":
            if "." in bucket:
                return None  # botocore: virtual over http (even to an IP), path over https
            if virtual_hostable(bucket) and not endpoint.is_ip:
                return _location(
                    endpoint.scheme,
                    f"{bucket}.{endpoint.authority}",
                    "/",
                    f"{bucket}.{endpoint.host_header}",
                )
        return _location(endpoint.scheme, endpoint.authority, f"/{bucket}/", endpoint.host_header)

    def _aws_location(self, bucket: str) -> Location | None:
        if self._regional_host is None:
            return None
        if self.addressing_style == "path":
            return _location("https", self._regional_host, f"/{bucket}/")
        host = self._regional_host
        if self._global_when_label and HOST_LABEL_RE.fullmatch(bucket):
            # Presigned URLs in the aws partition go to the global endpoint when
            # the bucket name is a valid host label (botocore's historic default).
            host = "s3.amazonaws.com"
        if virtual_hostable(bucket):
            return _location("https", f"{bucket}.{host}", "/")
        return _location("https", host, f"/{bucket}/")

    def _stamp_for(self, now: datetime | None) -> Stamp:
        if now is None:
            seconds = int(time.time())
        elif now.utcoffset() is None:
            raise ValueError("now must be a timezone-aware datetime")
        else:
            seconds = (now - _EPOCH) // _SECOND
        stamp = self._stamp
        if stamp.seconds != seconds:
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(seconds))
            date = amz_date[:8]
            head = f"{ALGORITHM}\n{amz_date}\n{date}/{self.region}/s3/aws4_request\n"
            stamp = self._stamp = Stamp(seconds, amz_date, date, head)
        return stamp

    def _day_keys_for(self, credentials: Credentials, date: str) -> DayKeys:
        try:
            return self._day_keys[(credentials, date)]
        except KeyError:
            pass
        _check_credentials(credentials)
        scope = f"{credentials.access_key}/{date}/{self.region}/s3/aws4_request"
        token = credentials.token
        day = DayKeys(
            HmacSha256(signing_key(credentials.secret_key, date, self.region)),
            f"X-Amz-Algorithm={ALGORITHM}&X-Amz-Credential={quote_query(scope)}&X-Amz-Date=",
            "" if token is None else f"&X-Amz-Security-Token={quote_query(token)}",
        )
        if len(self._day_keys) >= _CACHE_SIZE:
            self._day_keys.clear()
        self._day_keys[(credentials, date)] = day
        return day


def _check_request(key: str, expires_in: int) -> None:
    if not isinstance(key, str) or not key:
        raise ValueError("key must be a non-empty string")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        raise ValueError("expires_in must be an int")
    if not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise ValueError(f"expires_in must be within 1..{MAX_EXPIRES_IN}")


def _check_credentials(credentials: Credentials) -> None:
    if not credentials.access_key or not credentials.secret_key:
        raise ValueError("credentials need an access key and a secret key")
    if credentials.token == "":
        # botocore's two signers disagree on an empty token; None means no token.
        raise ValueError("credentials.token must be None or non-empty")


def _override_pairs(params: Mapping[str, str]) -> list[tuple[str, str]]:
    pairs = []
    for name, value in params.items():
        query_name = OVERRIDE_PARAMS.get(name)
        if query_name is None or not isinstance(value, str):
            raise ValueError(f"unsupported GetObject parameter {name!r}: use botocore")
        pairs.append((query_name, quote_query(value)))
    return pairs
