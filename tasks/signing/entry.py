"""The project's one signing entry point: everything that makes a link calls sign()."""

from __future__ import annotations

from tasks.signing.factory import get_signer
from tasks.signing.signer import MAX_EXPIRES_IN, SignedUrl, SigningError

__all__ = ["MAX_EXPIRES_IN", "SignedUrl", "SigningError", "sign"]


def sign(
    key: str, expires_in: int, filename: str | None = None, content_type: str | None = None
) -> SignedUrl:
    return get_signer().sign(key, expires_in, filename=filename, content_type=content_type)
