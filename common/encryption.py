"""Secrets at rest: Fernet encryption under keys from FIELD_ENCRYPTION_KEYS (MultiFernet).

The variable holds comma-separated Fernet keys: the first encrypts, every one decrypts, so
a key is rotated by putting a new one first, re-encrypting the rows (`manage.py
reencrypt_secrets`), then dropping the old one. Keys are read when used (settings may
change in tests), and a message never shows a key or a value.
"""

from __future__ import annotations

import base64
import binascii
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

VARIABLE = "FIELD_ENCRYPTION_KEYS"
KEY_BYTES = 32


class DecryptionError(ValueError):
    """A stored value that none of the keys decrypts (a dropped key, or not encrypted)."""


def key_problem(keys: list[str]) -> str | None:
    """Why these keys cannot be used (naming the variable, never a key); None when sound."""
    if not keys:
        return f"{VARIABLE} is not set: give at least one Fernet key (see .env.example)"
    for number, key in enumerate(keys, start=1):
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raw = b""
        if len(raw) != KEY_BYTES or len(key) != 44:
            return (
                f"{VARIABLE}: key #{number} is not a Fernet key (URL-safe base64 of 32 bytes; "
                "make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            )
    return None


@functools.lru_cache(maxsize=4)
def _box(keys: tuple[str, ...]) -> MultiFernet:
    problem = key_problem(list(keys))
    if problem:
        raise ImproperlyConfigured(problem)
    return MultiFernet([Fernet(key) for key in keys])


def box() -> MultiFernet:
    return _box(tuple(getattr(settings, VARIABLE, None) or ()))


def encrypt(text: str) -> str:
    return box().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return box().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise DecryptionError(
            f"a stored secret cannot be decrypted with the keys in {VARIABLE}"
        ) from None


def reencrypt(token: str) -> str:
    """The same value encrypted under the first key (DecryptionError when no key opens it)."""
    try:
        return box().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise DecryptionError(
            f"a stored secret cannot be decrypted with the keys in {VARIABLE}"
        ) from None
