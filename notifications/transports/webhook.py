"""Webhooks: Standard Webhooks headers and signatures, pooled connections, no redirects."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from standardwebhooks.webhooks import Webhook
from urllib3 import PoolManager, Timeout
from urllib3.exceptions import HTTPError, LocationValueError

from common.redact import redact, remember_secret
from notifications import first_contact as first_contacts
from notifications.addresses import AddressError, check_webhook_url
from notifications.deadline import Deadline
from notifications.models import Delivery, Recipient
from notifications.netguard import (
    BlockedAddressError,
    allowed_networks,
    allowed_ports,
    guarded_pool_manager,
)
from notifications.policy import is_success, is_transient_http, parse_retry_after, truncate
from notifications.transports.base import Sent, Transport, TransportError
from notifications.webhook_secrets import active_secrets, active_secrets_of

USER_AGENT = "linkdist-webhooks/1"
_pool: PoolManager | None = None


def shared_pool() -> PoolManager:
    """The process's connection pool (one per worker process; keep-alive per host)."""
    global _pool
    if _pool is None:
        _pool = guarded_pool_manager(settings.WEBHOOK_POOL_MAXSIZE)
    return _pool


def _forget_pool() -> None:
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool)


@functools.lru_cache(maxsize=1024)
def _signer(secret: str) -> Webhook:
    return Webhook(secret)


def sign(message_id: str, timestamp: datetime, body: str, secrets: list[str]) -> str:
    """`v1,<base64>` per secret, space separated (several while a secret is being rotated)."""
    return " ".join(_signer(secret).sign(message_id, timestamp, body) for secret in secrets)


def signed_headers(
    message_id: str, timestamp: datetime, body: str, secrets: list[str], extra: dict[str, str]
) -> dict[str, str]:
    return {
        **extra,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": sign(message_id, timestamp, body, secrets),
    }


class WebhookTransport(Transport):
    def __init__(self, pool: PoolManager | None = None) -> None:
        self.pool = pool
        self.secrets: dict[int, list[str]] = {}
        self._checked: dict[str, str] = {}  # URL -> checked URL, for this run
        self._answered: set[int] = set()  # endpoints that accepted a delivery in this run

    def prepare(self, deliveries: Sequence[Delivery]) -> None:
        loaded = active_secrets_of({d.recipient_id for d in deliveries})
        _remember(loaded.values())
        self.secrets.update(loaded)

    def send(self, delivery: Delivery) -> Sent:
        recipient = delivery.recipient
        url = self._url(recipient.target_url)
        if recipient.pk not in self.secrets:
            self.secrets[recipient.pk] = active_secrets(recipient)
            _remember([self.secrets[recipient.pk]])
        secrets = self.secrets[recipient.pk]
        if not secrets:
            raise TransportError("the endpoint has no active signing secret", permanent=True)
        now = datetime.now(UTC)
        headers = signed_headers(
            delivery.message_id, now, delivery.payload, secrets, recipient.headers
        )
        first = self.first_contact(recipient)
        sent = self.post(url, delivery.payload.encode("utf-8"), headers, first_contact=first)
        self._answered.add(recipient.pk)
        return sent

    def first_contact(self, recipient: Recipient) -> bool:
        """A send to an endpoint that has never answered and is not known to fail (so its lane
        runs in `deliveries`, beside the healthy ones): it gets the shorter deadline."""
        return first_contacts.applies(recipient) and recipient.pk not in self._answered

    def _url(self, url: str) -> str:
        if url in self._checked:
            return self._checked[url]
        try:
            checked = check_webhook_url(
                url,
                allow_http=settings.WEBHOOK_ALLOW_HTTP,
                allowed=allowed_networks(),
                ports=allowed_ports(),
            )
        except AddressError as error:
            raise TransportError(str(error), permanent=True) from None
        self._checked[url] = checked
        return checked

    def post(
        self, url: str, body: bytes, headers: dict[str, str], *, first_contact: bool = False
    ) -> Sent:
        """One request, from connect to the last byte read, within WEBHOOK_TIMEOUT (a first
        contact's within WEBHOOK_FIRST_CONTACT_TIMEOUT; from `deliveries`, past
        WEBHOOK_FIRST_CONTACT_GRACE only with a slot: first_contact.py)."""
        name = "WEBHOOK_FIRST_CONTACT_TIMEOUT" if first_contact else "WEBHOOK_TIMEOUT"
        total = float(getattr(settings, name))
        overrun = self._overrun(first_contact, total)
        with overrun, self._deadline(total, overrun) as deadline:
            try:
                status, answer, text = self._exchange(url, body, headers, total)
            except BlockedAddressError as error:
                raise TransportError(str(error), permanent=True) from None
            except LocationValueError as error:
                raise TransportError(f"bad webhook URL: {error}", permanent=True) from None
            except (HTTPError, OSError) as error:
                if deadline.expired or not deadline.remaining():  # or the socket's timeout, first
                    raise _cut_off(total, name, overrun) from None
                raise TransportError(redact(_describe(error))) from None
        if deadline.expired:  # cut off: whatever was read is not a complete answer
            raise _cut_off(total, name, overrun)
        return _judge(status, answer, text)

    def _overrun(self, first_contact: bool, total: float) -> first_contacts.Overrun:
        """A first contact from `deliveries` holds a slot past its grace; otherwise none."""
        grace = first_contacts.grace() if first_contact and self.in_deliveries else None
        return first_contacts.Overrun(grace or total, total)

    @staticmethod
    def _deadline(total: float, overrun: first_contacts.Overrun) -> Deadline:
        if overrun.grace >= total:
            return Deadline(total)
        return Deadline(overrun.grace, then=overrun.more_time)

    def _exchange(
        self, url: str, body: bytes, headers: dict[str, str], total: float
    ) -> tuple[int, Any, str]:
        pool = self.pool or shared_pool()
        timeout = Timeout(connect=min(float(settings.WEBHOOK_CONNECT_TIMEOUT), total), read=total)
        response = pool.urlopen(
            "POST",
            url,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            timeout=timeout,
            preload_content=False,
        )
        try:
            text = _read_some(response, settings.DELIVERY_RESPONSE_MAX_BYTES)
        except BaseException:
            response.close()  # never hand a half-read connection back to the pool
            response.release_conn()
            raise
        return response.status, response.headers, text


def _remember(secret_lists: Iterable[list[str]]) -> None:
    """A receiver may echo a secret back in any encoding: the recorder's redact() knows it."""
    for secrets in secret_lists:
        for secret in secrets:
            remember_secret(secret)


def _read_some(response: Any, limit: int) -> str:
    """At most `limit` bytes of the body; the connection is reused only if it was all read."""
    data = response.read(amt=limit + 1, decode_content=True)
    if len(data) > limit:  # more may follow: do not drain it, drop the connection
        response.close()
    response.release_conn()
    return redact(truncate(data[:limit].decode("utf-8", errors="replace"), limit))


def _judge(status: int, headers: Any, text: str) -> Sent:
    if is_success(status):
        return Sent(status, text)
    if status == 410:
        raise TransportError(
            "410 Gone: the endpoint is disabled", status_code=status, response=text, disable=True
        )
    if 300 <= status < 400:
        location = redact(headers.get("Location", "") or "")[:200]
        raise TransportError(
            f"{status} redirect to {location or '(no Location)'} not followed",
            permanent=True,
            status_code=status,
            response=text,
        )
    transient = is_transient_http(status)
    raise TransportError(
        f"HTTP {status}",
        permanent=not transient,
        status_code=status,
        response=text,
        retry_after=parse_retry_after(headers.get("Retry-After")) if transient else None,
    )


def _cut_off(seconds: float, setting: str, overrun: first_contacts.Overrun) -> TransportError:
    if overrun.cut:
        return TransportError(
            f"timed out: no complete answer within {overrun.grace:g} s of a first contact, every "
            "first-contact slot taken (WEBHOOK_FIRST_CONTACT_GRACE, WEBHOOK_FIRST_CONTACTS); "
            "retried at once with WEBHOOK_TIMEOUT",
            timed_out=True,
            first_contact=True,
        )
    return _timed_out(seconds, setting)


def _timed_out(seconds: float, setting: str) -> TransportError:
    first = setting == "WEBHOOK_FIRST_CONTACT_TIMEOUT"
    return TransportError(
        f"timed out: no complete answer within {seconds:g} s ({setting})"
        + ("; retried at once with WEBHOOK_TIMEOUT" if first else ""),
        timed_out=True,
        first_contact=first,
    )


def _describe(error: Exception) -> str:
    name = type(error).__name__
    reason = getattr(error, "reason", None) or error
    return f"{name}: {reason}"[:400]
