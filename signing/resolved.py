"""The fast presigner only where botocore's S3 client would sign the very same URL.

botocore resolves its endpoint from code, environment variables (``AWS_ENDPOINT_URL_S3``,
``AWS_ENDPOINT_URL``, ``AWS_USE_FIPS_ENDPOINT``, ``AWS_USE_DUALSTACK_ENDPOINT``,
``AWS_S3_US_EAST_1_REGIONAL_ENDPOINT``, ...) and the shared config file (``endpoint_url``,
``use_fips_endpoint``, ``s3 = ...``, ``services``). Rather than re-implement those rules,
this module reads what the client resolved (its endpoint-ruleset inputs and its merged
config), builds the presigner from that, and proves it: one URL for the bucket, signed by
both with the same throw-away credentials at the same second, must be byte-identical.
Anything else means botocore signs every link.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.regions import EndpointResolverBuiltins as Builtin

from signing.sigv4 import ADDRESSING_STYLES, Credentials, SigV4QueryPresigner

# Signs nothing real: only compared with what botocore makes of the same inputs.
PROBE_CREDENTIALS = Credentials("AKIDLINKDISTPROBE", "probe-secret", "probe-token")
PROBE_KEY = "linkdist-probe/a b+é~(1).txt"
PROBE_PARAMS = {"ResponseContentDisposition": 'attachment; filename="a b.txt"'}


@dataclass(frozen=True)
class ResolvedS3:
    """What an S3 client resolved, from the inputs of its endpoint rule set."""

    region: str
    endpoint_url: str | None  # configured in code, the environment or the config file
    addressing_style: str
    fips: bool
    dualstack: bool
    accelerate: bool
    global_us_east_1: bool  # False with us_east_1_regional_endpoint = regional


def resolved_s3(client: Any) -> ResolvedS3 | None:
    """Read the client's resolved settings; None when this botocore does not expose them."""
    builtins = getattr(getattr(client, "_ruleset_resolver", None), "_builtins", None)
    if not isinstance(builtins, Mapping) or Builtin.AWS_USE_FIPS not in builtins:
        return None
    s3_config = client.meta.config.s3 or {}
    return ResolvedS3(
        region=client.meta.region_name,
        endpoint_url=builtins.get(Builtin.SDK_ENDPOINT),
        addressing_style=s3_config.get("addressing_style") or "auto",
        fips=bool(builtins.get(Builtin.AWS_USE_FIPS)),
        dualstack=bool(builtins.get(Builtin.AWS_USE_DUALSTACK)),
        accelerate=bool(builtins.get(Builtin.AWS_S3_ACCELERATE)),
        global_us_east_1=bool(builtins.get(Builtin.AWS_S3_USE_GLOBAL_ENDPOINT)),
    )


def unhandled(resolved: ResolvedS3) -> str | None:
    """Why the fast presigner cannot follow this configuration, or None.

    With a configured endpoint these flags change nothing botocore signs: the probe decides.
    """
    if resolved.endpoint_url is not None:
        return None
    for flag, what in (
        (resolved.fips, "FIPS endpoints"),
        (resolved.dualstack, "dual-stack endpoints"),
        (resolved.accelerate, "transfer acceleration"),
        (resolved.addressing_style not in ADDRESSING_STYLES, "this addressing style"),
    ):
        if flag:
            return f"botocore is configured for {what}"
    if resolved.region == "us-east-1" and not resolved.global_us_east_1:
        return "botocore is configured for the regional us-east-1 endpoint"
    return None


def presigner_for(resolved: ResolvedS3) -> SigV4QueryPresigner:
    return SigV4QueryPresigner(
        region=resolved.region,
        endpoint_url=resolved.endpoint_url,
        addressing_style=resolved.addressing_style,
    )


def probe_difference(presigner: SigV4QueryPresigner, probe_client: Any, bucket: str) -> str | None:
    """Sign one URL with both (botocore first, then ours at its second); None when identical.

    `probe_client` is a client of the same session and configuration as the one that would
    sign, holding PROBE_CREDENTIALS.
    """
    if not presigner.can_presign(bucket, PROBE_PARAMS):
        return f"the fast presigner does not cover bucket {bucket!r} here"
    theirs = str(
        probe_client.generate_presigned_url(
            "get_object",
            Params={"Bucket": bucket, "Key": PROBE_KEY, **PROBE_PARAMS},
            ExpiresIn=60,
        )
    )
    ours = presigner.presign_get(
        bucket,
        PROBE_KEY,
        expires_in=60,
        credentials=PROBE_CREDENTIALS,
        params=PROBE_PARAMS,
        now=_signed_at(theirs),
    )
    if ours != theirs:
        return f"botocore signs {_origin(theirs)}, the fast presigner {_origin(ours)}"
    return None


def fast_presigner(client: Any, probe_client: Any, bucket: str) -> SigV4QueryPresigner | str:
    """The presigner that signs what `client` would for `bucket`, or why there is none."""
    resolved = resolved_s3(client)
    if resolved is None:
        return "this botocore does not expose its resolved endpoint settings"
    reason = unhandled(resolved)
    if reason:
        return reason
    presigner = presigner_for(resolved)
    return probe_difference(presigner, probe_client, bucket) or presigner


def _signed_at(url: str) -> datetime:
    stamp = parse_qs(urlsplit(url).query).get("X-Amz-Date", [""])[0]
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return datetime.now(UTC)  # not SigV4 query auth: the comparison will say so


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
