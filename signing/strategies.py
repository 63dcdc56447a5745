"""The ways a GET link to a private object can be signed. Each returns a URL string."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.signers import CloudFrontSigner

from signing.sigv4 import OVERRIDE_PARAMS, Credentials, SigV4QueryPresigner


class Strategy(Protocol):
    uses_credentials: bool

    def presign(
        self,
        key: str,
        expires_in: int,
        params: Mapping[str, str],
        credentials: Credentials,
        now: datetime,
    ) -> str: ...


def object_path(key: str) -> str:
    return "/" + quote(key, safe="/~")


def response_query(params: Mapping[str, str]) -> str:
    return urlencode({OVERRIDE_PARAMS[name]: value for name, value in params.items()})


def object_url(base_url: str, key: str, params: Mapping[str, str]) -> str:
    """The unsigned URL of an object on a custom host, with its response overrides."""
    query = response_query(params)
    return base_url + object_path(key) + (f"?{query}" if query else "")


class BotocoreStrategy:
    """botocore's generate_presigned_url on one client reused for the process."""

    uses_credentials = True

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def presign(
        self,
        key: str,
        expires_in: int,
        params: Mapping[str, str],
        credentials: Credentials,
        now: datetime,
    ) -> str:
        return str(
            self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": key, **params},
                ExpiresIn=expires_in,
                HttpMethod="GET",
            )
        )


class PresignerStrategy:
    """The fast SigV4 presigner, falling back to botocore for what it does not cover."""

    uses_credentials = True

    def __init__(self, presigner: SigV4QueryPresigner, fallback: BotocoreStrategy, bucket: str):
        self._presigner = presigner
        self._fallback = fallback
        self._bucket = bucket

    def presign(
        self,
        key: str,
        expires_in: int,
        params: Mapping[str, str],
        credentials: Credentials,
        now: datetime,
    ) -> str:
        if not self._presigner.can_presign(self._bucket, params):
            return self._fallback.presign(key, expires_in, params, credentials, now)
        return self._presigner.presign_get(
            self._bucket,
            key,
            expires_in=expires_in,
            credentials=credentials,
            params=params,
            now=now,
            checked=True,  # by the Signer
        )


class S3HostStrategy:
    """SigV4 query signing for a custom host that S3 itself serves (CNAME to the bucket)."""

    uses_credentials = True

    def __init__(self, base_url: str, region: str) -> None:
        self._base_url = base_url.rstrip("/")
        self._region = region

    def presign(
        self,
        key: str,
        expires_in: int,
        params: Mapping[str, str],
        credentials: Credentials,
        now: datetime,
    ) -> str:
        url = object_url(self._base_url, key, params)
        request = AWSRequest(method="GET", url=url)
        boto_creds = BotoCredentials(
            credentials.access_key, credentials.secret_key, credentials.token
        )
        S3SigV4QueryAuth(boto_creds, "s3", self._region, expires=expires_in).add_auth(request)
        return str(request.url)


class CloudFrontStrategy:
    """CloudFront signed URLs (canned policy) for a distribution in front of the bucket."""

    uses_credentials = False

    def __init__(self, base_url: str, key_id: str, private_key_pem: bytes) -> None:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        private_key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise ValueError("the CloudFront key must be an RSA private key in PEM form")

        def rsa_sign(message: bytes) -> bytes:
            return private_key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303

        self._base_url = base_url.rstrip("/")
        self._signer = CloudFrontSigner(key_id, rsa_sign)

    def presign(
        self,
        key: str,
        expires_in: int,
        params: Mapping[str, str],
        credentials: Credentials,
        now: datetime,
    ) -> str:
        url = object_url(self._base_url, key, params)
        return str(
            self._signer.generate_presigned_url(
                url, date_less_than=now + timedelta(seconds=expires_in)
            )
        )
