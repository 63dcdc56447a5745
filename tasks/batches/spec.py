"""What a caller asks for in a batch, checked before anything is written (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from signing.signer import (
    MAX_EXPIRES_IN,
    MAX_KEY_BYTES,
    SigningError,
    check_expires_in,
    check_key,
)


class BatchInputError(ValueError):
    """Bad input, naming the field it is about ("keys", "expires_in", "recipients[1].webhook")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NothingToShare(BatchInputError):
    """Well-formed input that names no object (a prefix with nothing under it)."""


class InputConflict(BatchInputError):
    """Well-formed input that clashes with what exists (another secret for a known endpoint)."""


@dataclass(frozen=True)
class BatchRequest:
    expires_in: int
    keys: Sequence[str] | None = None
    prefix: str | None = None
    filename_from_key: bool = False
    check_existence: bool = False
    refresh: bool | None = None  # None: refresh when refresh_until is given
    refresh_until: datetime | None = None
    recipients: Sequence[dict[str, Any]] = field(default_factory=tuple)
    notify_lapsed: bool = False
    refresh_margin: float | None = None  # share of the TTL; None: LINKS_REFRESH_MARGIN_PERCENT
    refresh_floor: int | None = None  # seconds; None: LINKS_REFRESH_FLOOR


@dataclass(frozen=True)
class RefreshLimits:
    """What tasks.batches.limits derives from the settings, as values."""

    min_ttl: int = 1  # seconds: a refreshing batch's links live at least this long
    min_ttl_source: str = "LINKS_REFRESH_MIN_TTL"  # named in the error
    max_life: int | None = None  # seconds: the latest refresh_until, and the default; None: no end
    min_margin: int = 0  # seconds: the shortest refresh margin in force
    interval: int = 0  # seconds between refresh passes (LINKS_REFRESH_INTERVAL)
    capacity: float | None = None  # links/s the refresh pools re-sign; None: not checked
    capacity_source: str = "the measured refresh rate × LINKS_REFRESH_PARALLEL"


def distinct(keys: Iterable[str]) -> list[str]:
    """The keys in first-seen order, each once."""
    return list(dict.fromkeys(keys))


def preview(key: str, limit: int = 60) -> str:
    return repr(key if len(key) <= limit else key[:limit] + "…")


def unstorable(text: str) -> str | None:
    """Why text cannot even be stored or reported (NUL, lone surrogates); None when it can."""
    if "\x00" in text:
        return "holds a NUL character"
    if not text.isascii() and any("\ud800" <= char <= "\udfff" for char in text):
        return "holds a lone surrogate (not valid Unicode)"
    return None


def plain_ascii(key: object) -> bool:
    """A key that every check below accepts: ASCII, not empty, not too long, no NUL."""
    return (
        type(key) is str and 0 < len(key) <= MAX_KEY_BYTES and key.isascii() and "\x00" not in key
    )


def all_plain_ascii(keys: Sequence[object]) -> bool:
    """plain_ascii() of every key, on the keys joined (a 100,000-key batch: a few ms)."""
    if not all(type(key) is str for key in keys):
        return False
    together = "".join(keys)  # type: ignore[arg-type]
    lengths = [len(key) for key in keys]  # type: ignore[arg-type]
    return (
        min(lengths) > 0
        and max(lengths) <= MAX_KEY_BYTES
        and together.isascii()
        and "\x00" not in together
    )


def check_keys(keys: Sequence[object], max_size: int) -> list[str]:
    if not keys:
        raise BatchInputError("keys", "no keys given: list at least one object key")
    if not all_plain_ascii(keys):  # else each key passes: checked whole in a few C calls
        check_each_key(keys)
    unique = distinct(keys)  # type: ignore[arg-type]
    if len(unique) > max_size:
        raise BatchInputError(
            "keys",
            f"{len(unique)} distinct keys; a batch holds at most {max_size} (LINKS_MAX_BATCH_SIZE)",
        )
    return unique


def check_each_key(keys: Sequence[object]) -> None:
    for number, key in enumerate(keys, start=1):
        if plain_ascii(key):  # the common case, checked in a few C calls
            continue
        if isinstance(key, str) and unstorable(key):
            raise BatchInputError("keys", f"key #{number} {unstorable(key)}")
        try:
            check_key(key)  # type: ignore[arg-type]
        except SigningError as error:
            shown = preview(key) if isinstance(key, str) else repr(key)
            raise BatchInputError("keys", f"key #{number} {shown}: {error}") from None


def check_prefix(prefix: object) -> str:
    if not isinstance(prefix, str) or not prefix:
        raise BatchInputError(
            "prefix", "the prefix is empty: give the start of the keys to share, e.g. 'reports/'"
        )
    if unstorable(prefix):
        raise BatchInputError("prefix", f"the prefix {unstorable(prefix)}")
    if len(prefix.encode("utf-8")) > MAX_KEY_BYTES:
        raise BatchInputError("prefix", f"a prefix is at most {MAX_KEY_BYTES} bytes of UTF-8")
    return prefix


def check_refresh(refresh: bool | None, until: datetime | None, now: datetime) -> bool:
    if until is None:
        return bool(refresh)
    if refresh is False:
        raise BatchInputError("refresh_until", "refresh_until is only used when refresh is on")
    if until.tzinfo is None:
        raise BatchInputError("refresh_until", "refresh_until needs a time zone (e.g. 'Z')")
    if until <= now:
        raise BatchInputError("refresh_until", f"refresh_until ({until.isoformat()}) has passed")
    return True


def validate(
    request: BatchRequest,
    *,
    max_size: int,
    now: datetime,
    limits: RefreshLimits = RefreshLimits(),
) -> BatchRequest:
    """The request with distinct keys and refresh resolved, or BatchInputError."""
    if request.keys is not None and request.prefix is not None:
        raise BatchInputError("prefix", "give either keys or a prefix, not both")
    if request.keys is None and request.prefix is None:
        raise BatchInputError("keys", "give keys (a list of object keys) or a prefix")
    try:
        check_expires_in(request.expires_in)
    except SigningError as error:
        raise BatchInputError("expires_in", str(error)) from None
    keys = None if request.keys is None else check_keys(request.keys, max_size)
    prefix = None if request.prefix is None else check_prefix(request.prefix)
    refresh = check_refresh(request.refresh, request.refresh_until, now)
    check_margin(request.refresh_margin, request.refresh_floor)
    until = request.refresh_until
    if refresh:
        check_refresh_ttl(request.expires_in, limits)
        if keys is not None:
            check_kept_alive(len(keys), request.expires_in, limits)
        if until is None and limits.max_life is not None:
            until = now + timedelta(seconds=limits.max_life)
        check_refresh_life(until, now, limits.max_life)
    return replace(request, keys=keys, prefix=prefix, refresh=refresh, refresh_until=until)


def check_refresh_life(until: datetime | None, now: datetime, max_life: int | None) -> None:
    """refresh_until is at most LINKS_REFRESH_MAX_LIFE from now: a cap, not only a default."""
    if max_life is None or until is None:
        return
    latest = now + timedelta(seconds=max_life)
    if until > latest:
        raise BatchInputError(
            "refresh_until",
            f"refresh_until ({until.isoformat()}) is more than LINKS_REFRESH_MAX_LIFE "
            f"({max_life} s, {max_life / 86400:g} days) from now: the latest is "
            f"{latest.isoformat(timespec='seconds')}",
        )


def check_refresh_ttl(expires_in: int, limits: RefreshLimits) -> None:
    if expires_in < limits.min_ttl:
        raise BatchInputError(
            "expires_in",
            f"a refreshing batch's links live at least {limits.min_ttl} s "
            f"({limits.min_ttl_source}); {expires_in} s would be re-signed on every pass",
        )


def largest_kept_alive(expires_in: int, limits: RefreshLimits) -> int | None:
    """The most links of one refreshing batch the pools re-sign in time at this TTL: re-signing
    them (size / capacity) fits in half their life less the minimum margin, or in one refresh
    interval (a batch one pass's share of an interval re-signs is always kept). None: not
    limited."""
    if limits.capacity is None:
        return None
    room = max(expires_in / 2 - limits.min_margin, limits.interval)
    return int(limits.capacity * room)


def check_kept_alive(size: int, expires_in: int, limits: RefreshLimits) -> None:
    largest = largest_kept_alive(expires_in, limits)
    if largest is None or size <= largest:
        return
    capacity = limits.capacity or 0.0
    needed = int(2 * (limits.min_margin + size / capacity)) + 1
    raise BatchInputError(
        "keys",
        f"the refresh pools cannot keep {size} links of {expires_in} s alive: they re-sign about "
        f"{capacity:.0f} links/s ({limits.capacity_source}), so at most {largest} links of "
        f"this TTL per refreshing batch; split the batch, give links of at least {needed} s, "
        "or add refresh capacity (LINKS_REFRESH_PARALLEL and upkeep workers)",
    )


def check_margin(margin: float | None, floor: int | None) -> None:
    if margin is not None and not 0 < margin < 1:
        raise BatchInputError(
            "refresh_margin", f"refresh_margin is a share of the TTL, between 0 and 1: {margin}"
        )
    if floor is not None and not 0 <= floor <= MAX_EXPIRES_IN:
        raise BatchInputError(
            "refresh_floor", f"refresh_floor is 0 to {MAX_EXPIRES_IN} seconds: {floor}"
        )
