"""Key scopes applied to batches: refused keys are reported per key, like missing ones.

A key list keeps its allowed keys (the others become `refused` skipped keys); a list with
no allowed key, or a prefix outside the scope, is refused as a whole (OutOfScope: the API
answers 403 naming the scope). A prefix listing drops the project's reserved keys unseen.
"""

from __future__ import annotations

from collections.abc import Sequence

from access.scopes import KeyScope, ScopeError
from tasks.batches.spec import BatchInputError, preview
from tasks.models import Batch, SkippedKey


class OutOfScope(BatchInputError):
    """Nothing the caller asked for is theirs to share (HTTP 403)."""


def split_keys(scope: KeyScope, keys: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """(allowed keys, {refused key: why}); OutOfScope when no key is allowed."""
    allowed, refused = scope.split(keys)
    if not allowed:
        key, why = next(iter(refused.items()))
        raise OutOfScope(
            "keys",
            f"none of the {len(refused)} keys may be shared by you: you may share "
            f"{scope.describe()}; e.g. {preview(key)}: {why}",
        )
    return allowed, refused


def check_prefix(scope: KeyScope, prefix: str) -> None:
    try:
        scope.check_prefix(prefix)
    except ScopeError as error:
        raise OutOfScope("prefix", str(error)) from None


def refused_rows(batch: Batch, refused: dict[str, str]) -> list[SkippedKey]:
    return [
        SkippedKey(batch=batch, key=key, reason=SkippedKey.Reason.REFUSED, detail=why[:255])
        for key, why in refused.items()
    ]


def record_refused(batch: Batch, refused: dict[str, str]) -> None:
    """Store the refused keys of a batch being written, and count them as skipped."""
    if refused:
        SkippedKey.objects.bulk_create(refused_rows(batch, refused), ignore_conflicts=True)
        batch.skipped += len(refused)
