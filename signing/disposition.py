"""Content-Disposition values for downloads (RFC 6266 with RFC 8187 for non-ASCII names)."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

# RFC 8187 attr-char besides letters and digits
_ATTR_SAFE = "!#$&+-.^_`|~"


def ascii_fallback(filename: str) -> str:
    """A plain-ASCII stand-in for clients that ignore filename*."""
    decomposed = unicodedata.normalize("NFKD", filename)
    chars = []
    for char in decomposed:
        if unicodedata.combining(char):
            continue
        if char in '"\\' or not (32 <= ord(char) < 127):
            chars.append("_")
        else:
            chars.append(char)
    return "".join(chars).strip() or "download"


def content_disposition(filename: str, *, inline: bool = False) -> str:
    if not filename or any(char in filename for char in "\r\n\x00"):
        raise ValueError("a download filename must be non-empty and on one line")
    filename = filename.replace("/", "_").replace("\\", "_")
    kind = "inline" if inline else "attachment"
    fallback = ascii_fallback(filename)
    value = f'{kind}; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe=_ATTR_SAFE)}"
    return value


def filename_from_key(key: str) -> str:
    return key.rstrip("/").rsplit("/", 1)[-1] or "download"
