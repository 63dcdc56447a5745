"""The one signing entry point: a GET link to a private object, and when it dies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from signing.credentials import CredentialSource
from signing.disposition import content_disposition
from signing.sigv4 import MAX_EXPIRES_IN, Credentials
from signing.strategies import Strategy

__all__ = ["MAX_EXPIRES_IN", "MAX_KEY_BYTES", "SignedUrl", "Signer", "SigningError"]

MAX_KEY_BYTES = 1024


class SigningError(ValueError):
    """A request that cannot become a working link (bad TTL, bad key, bad filename)."""


@dataclass(frozen=True)
class SignedUrl:
    url: str
    expires_at: datetime
    issued_at: datetime  # the signature's time, whole seconds (as SigV4 counts)


def check_expires_in(expires_in: object) -> int:
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        raise SigningError(f"expires_in must be a whole number of seconds, got {expires_in!r}")
    if not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise SigningError(
            f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds (7 days), got {expires_in}"
        )
    return expires_in


def check_key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise SigningError("an object key must be a non-empty string")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise SigningError(f"an object key is at most {MAX_KEY_BYTES} bytes of UTF-8")
    return key


def response_params(filename: str | None, content_type: str | None) -> dict[str, str]:
    params = {}
    if filename is not None:
        try:
            params["ResponseContentDisposition"] = content_disposition(filename)
        except ValueError as error:
            raise SigningError(str(error)) from None
    if content_type is not None:
        if not content_type or any(char in content_type for char in "\r\n"):
            raise SigningError("a content type must be non-empty and on one line")
        params["ResponseContentType"] = content_type
    return params


def utc_now() -> datetime:
    return datetime.now(UTC)


class Signer:
    def __init__(
        self,
        strategy: Strategy,
        credentials: CredentialSource | None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if strategy.uses_credentials and credentials is None:
            raise SigningError("this signing strategy needs AWS credentials")
        self._strategy = strategy
        self._credentials = credentials
        self._clock = clock

    def sign(
        self,
        key: str,
        expires_in: int,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> SignedUrl:
        check_expires_in(expires_in)
        check_key(key)
        params = response_params(filename, content_type)
        now = self._clock().replace(microsecond=0)
        creds, creds_expiry = self._current_credentials()
        url = self._strategy.presign(key, expires_in, params, creds, now)
        return SignedUrl(url, self._expires_at(now, expires_in, creds_expiry), now)

    def _current_credentials(self) -> tuple[Credentials, datetime | None]:
        if self._credentials is None:
            return Credentials("", ""), None
        return self._credentials.current()

    @staticmethod
    def _expires_at(now: datetime, expires_in: int, creds_expiry: datetime | None) -> datetime:
        expires_at = now + timedelta(seconds=expires_in)
        if creds_expiry is not None:
            expires_at = min(expires_at, creds_expiry)
        return expires_at
