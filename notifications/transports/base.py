"""What every transport does: send one delivery, or say why not and whether to try again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from notifications.models import Delivery


@dataclass(frozen=True)
class Sent:
    status_code: int | None
    response: str = ""


class TransportError(Exception):
    """A failed send. `permanent` ones are not retried; `disable` also disables the recipient."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        status_code: int | None = None,
        response: str = "",
        retry_after: float | None = None,
        disable: bool = False,
        timed_out: bool = False,
        first_contact: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent or disable
        self.status_code = status_code
        self.response = response
        self.retry_after = retry_after
        self.disable = disable
        self.timed_out = timed_out  # cut off at the deadline: the endpoint is slow or hanging
        # cut off at the shorter deadline of a first contact: retried at once, in quarantine,
        # with the full one (the try is not spent)
        self.first_contact = first_contact


class Transport:
    """One per channel. A dispatch run opens it once, sends many deliveries, closes it."""

    # Sending for a run of the `deliveries` process: a webhook's first contact has
    # WEBHOOK_FIRST_CONTACT_GRACE, then runs on only with a slot (first_contact.py).
    in_deliveries = False

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def prepare(self, deliveries: Sequence[Delivery]) -> None:
        """Load what the sends of a run share, in a few queries (before the first send)."""
        return None

    def send(self, delivery: Delivery) -> Sent:
        raise NotImplementedError

    def __enter__(self) -> Transport:
        self.open()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
