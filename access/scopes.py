"""Key scopes: which object keys a caller may share (pure: values in, values out).

A scope is the prefixes granted to a user, optionally narrowed by the token in use, minus
the project's reserved prefixes. Keys are compared as they are (S3 compares bytes), after
refusing every key that could mean something else to a server, proxy or person:

- not in Unicode NFC form (a decomposed "é" is another object that looks the same);
- control or invisible formatting characters (bidi overrides, zero-width joiners);
- a leading "/", an empty segment ("//"), or a "." or ".." segment — also when spelled with
  look-alikes that NFKC or a lenient server folds into "/" or "." (fullwidth solidus,
  division slash, one-dot leader, backslash...).

A reserved prefix is matched on the folded form (NFKC, case-folded, look-alikes mapped), so
"_LinkDist／manifests/x" is as reserved as "_linkdist/manifests/x".
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

# Characters that NFKC, a case-insensitive or a Windows-minded server may turn into "/" or ".".
SLASH_LOOKALIKES = "\\\u2044\u2215\u29f8\u2571\uff0f\u29f5\ufe68\uff3c"
DOT_LOOKALIKES = "\u2024\uff0e\ufe52\u3002\uff61\u0701\u0702\ua60e\u2e31"
FOLD = str.maketrans({**dict.fromkeys(SLASH_LOOKALIKES, "/"), **dict.fromkeys(DOT_LOOKALIKES, ".")})
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
# The project's own objects (CSV manifests of big emails, ...) live under this prefix: it
# cannot be granted nor asked for, by the API or the command line.
RESERVED_PREFIX = "_linkdist/"
RESERVED = (RESERVED_PREFIX,)


class ScopeError(ValueError):
    """A prefix outside the caller's scope (the message names the scope)."""


def folded(text: str) -> str:
    """The form two keys that a person or a lenient server could confuse share."""
    if text.isascii():  # the common case, ~10x faster: on ASCII, NFKC changes nothing, the
        return text.replace("\\", "/").lower()  # look-alikes are just "\\", casefold is lower
    return folded_unicode(text)


def folded_unicode(text: str) -> str:
    return unicodedata.normalize("NFKC", text.translate(FOLD)).translate(FOLD).casefold()


def character_problem(key: str) -> str | None:
    if key.isascii():  # ASCII is NFC; its only refused characters are the controls (Cc)
        return None if key.isprintable() else CONTROL_CHARACTERS
    if unicodedata.normalize("NFC", key) != key:
        return "not in Unicode NFC form (normalise it; a decomposed form is another object)"
    if any(unicodedata.category(char) in REFUSED_CATEGORIES for char in key):
        return CONTROL_CHARACTERS
    return None


CONTROL_CHARACTERS = "holds control, invisible or unassigned characters"


def form_problem(key: str) -> str | None:
    """Why a key (or prefix) is refused whatever the scope; None when its form is sound."""
    problem = character_problem(key)
    if problem:
        return problem
    segments = folded(key).split("/")
    if segments[0] == "" and len(segments) > 1:
        return "starts with '/'"
    inner = segments[:-1]  # a trailing "/" (a folder) is fine
    if "" in inner:
        return "holds an empty path segment ('//')"
    if any(segment in (".", "..") for segment in segments):
        return "holds a '.' or '..' path segment"
    return None


def quoted(prefixes: Iterable[str]) -> str:
    shown = [repr(prefix) if prefix else "'' (the whole bucket)" for prefix in prefixes]
    return ", ".join(shown) or "none"


@dataclass(frozen=True)
class KeyScope:
    """What one caller may share: under any of `granted`, and (when given) of `narrowed_to`."""

    granted: tuple[str, ...]
    reserved: tuple[str, ...] = RESERVED
    narrowed_to: tuple[str, ...] | None = None  # a token's own prefixes; None: not narrowed

    def describe(self) -> str:
        text = f"keys under {quoted(self.granted)}"
        if self.granted:
            text += f" except {quoted(self.reserved)}"
        if self.narrowed_to is not None:
            text += f", narrowed by this token to {quoted(self.narrowed_to)}"
        return text

    @cached_property
    def folded_reserved(self) -> tuple[str, ...]:
        return tuple(folded(prefix) for prefix in self.reserved)

    def is_reserved(self, key: str) -> bool:
        return folded(key).startswith(self.folded_reserved)

    def refusal(self, key: str) -> str | None:
        """Why this caller may not share `key`; None when they may."""
        problem = form_problem(key)
        if problem:
            return problem
        if self.is_reserved(key):
            return "reserved for the project's own files"
        if not within(key, self.granted):
            return f"outside your scope ({self.describe()})"
        if self.narrowed_to is not None and not within(key, self.narrowed_to):
            return f"outside this token's scope ({self.describe()})"
        return None

    def split(self, keys: Sequence[str]) -> tuple[list[str], dict[str, str]]:
        """(allowed keys in order, {refused key: why})."""
        if self.allows_all_plain(keys):
            return list(keys), {}
        allowed, refused = [], {}
        for key in keys:
            reason = self.refusal(key)
            if reason is None:
                allowed.append(key)
            else:
                refused[key] = reason
        return allowed, refused

    def allows_all_plain(self, keys: Sequence[str]) -> bool:
        """True only when refusal() allows every key, all printable ASCII (a batch's common
        case), decided on the keys joined, in a few C calls where refusal() took 4 µs a key
        (a 100,000-key batch: 0.2 s). False: ask refusal() for each key.

        On printable ASCII, refusal() folds a key to `key.replace("\\", "/").lower()` and
        refuses it only for a leading "/", a "//", a "." or ".." segment (all of them hold
        "/." or start with "."), a reserved prefix, or a key outside the grants."""
        if not all(type(key) is str for key in keys):
            return False
        together = "".join(keys)
        if not (together.isascii() and together.isprintable()):
            return False
        lines = "\n" + "\n".join(keys).replace("\\", "/").lower()  # one key a line, folded
        tricks = ("\n/", "//", "/.", "\n.", *(f"\n{prefix}" for prefix in self.folded_reserved))
        if any(trick in lines for trick in tricks):
            return False
        return all_within(keys, self.granted) and (
            self.narrowed_to is None or all_within(keys, self.narrowed_to)
        )

    def check_prefix(self, prefix: str) -> None:
        """A prefix is shared only when it lies inside the scope; ScopeError otherwise."""
        reason = self.refusal(prefix)
        if reason:
            raise ScopeError(f"the prefix {prefix!r} is refused: {reason}")

    def listing_filter(self, key: str) -> bool:
        """Keys a listing under an allowed prefix keeps (reserved ones are dropped unseen)."""
        return not self.is_reserved(key)


def within(key: str, prefixes: Iterable[str]) -> bool:
    return key.startswith(tuple(prefixes))


def all_within(keys: Sequence[str], prefixes: Iterable[str]) -> bool:
    starts = tuple(prefixes)
    return "" in starts or all(key.startswith(starts) for key in keys)


def grant_problem(prefix: str, reserved: Sequence[str] = RESERVED) -> str | None:
    """Why a prefix cannot be granted: a bad form, not a folder, or reserved."""
    if prefix == "":
        return None
    problem = form_problem(prefix)
    if problem:
        return problem
    if not prefix.endswith("/"):
        return "a granted prefix is a folder: end it with '/' ('' grants the whole bucket)"
    if any(folded(prefix).startswith(folded(r)) for r in reserved):
        return "reserved for the project's own files"
    return None


def common_start(keys: Sequence[str]) -> str:
    """The longest start all keys share, character by character ('' for no keys).

    A key lies under a prefix exactly when this start of its batch does: what a narrowed
    token's scope is matched on (Batch.key_root).
    """
    if not keys:
        return ""
    low, high = min(keys), max(keys)
    size = 0
    while size < len(low) and low[size] == high[size]:
        size += 1
    return low[:size]
