"""Recipients from what a caller gives (API body, CLI --to). Being built on branch `delivery`.

Contract:

    recipient_from_spec(owner, spec) -> NewRecipient(recipient, secret)

- spec: {"email": "a@b.c"} or {"webhook": "https://...", "secret": "whsec_..." (optional),
  "headers": {...} (optional)}; the CLI's "email:ADDR" / "webhook:URL" becomes the same dict
  through parse_cli_spec(text).
- secret: the webhook secret when the project generated it (to be shown to the caller
  once), else None.
- Bad input raises RecipientError(field, message) and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from notifications.models import Recipient


class RecipientError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class NewRecipient:
    recipient: Recipient
    secret: str | None


def parse_cli_spec(text: str) -> dict[str, Any]:
    raise NotImplementedError("lands with branch `delivery`")


def recipient_from_spec(owner: Any, spec: dict[str, Any]) -> NewRecipient:
    raise NotImplementedError("lands with branch `delivery`")
