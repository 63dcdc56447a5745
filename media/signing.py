"""The project's one signing entry point: everything that makes a link calls sign(), or
sign_many() for many links at once (the bulk paths: batch chunks, refresh passes).

Both use the process's one Signer (media.factory), built once from settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from media import factory
from signing.signer import MAX_EXPIRES_IN, SignedUrl, SigningError

__all__ = ["MAX_EXPIRES_IN", "LinkRequest", "SignedUrl", "SigningError", "sign", "sign_many"]


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """What sign() takes, as one value: for sign_many()."""

    key: str
    expires_in: int
    filename: str | None = None
    content_type: str | None = None


def sign(
    key: str, expires_in: int, filename: str | None = None, content_type: str | None = None
) -> SignedUrl:
    """A GET link to a private object; SigningError for a request that cannot be one."""
    return factory.get_signer().sign(key, expires_in, filename=filename, content_type=content_type)


def sign_many(requests: Iterable[LinkRequest]) -> Iterator[SignedUrl | SigningError]:
    """sign() for each request, in order: its SignedUrl, or the SigningError of that one
    request (the others are signed all the same). Lazy: a link is signed when it is taken."""
    signer = factory.get_signer()
    for request in requests:
        try:
            yield signer.sign(
                request.key,
                request.expires_in,
                filename=request.filename,
                content_type=request.content_type,
            )
        except SigningError as error:
            yield error
