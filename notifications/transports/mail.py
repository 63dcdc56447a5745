"""Email: one SMTP connection per dispatch run; 4xx replies and lost connections retry."""

from __future__ import annotations

import contextlib
import smtplib
import socket

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

from common.redact import redact
from notifications.deadline import Deadline, watch
from notifications.emails import build_message
from notifications.models import Delivery
from notifications.policy import is_transient_smtp
from notifications.transports.base import Sent, Transport, TransportError


class EmailTransport(Transport):
    def __init__(self, backend: BaseEmailBackend | None = None) -> None:
        self.backend = backend
        self._open = False

    def open(self) -> None:
        self.backend = self.backend or get_connection(_backend(), fail_silently=False)

    def close(self) -> None:
        if self.backend is not None and self._open:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.backend.close()
        self._open = False

    def send(self, delivery: Delivery) -> Sent:
        if self.backend is None:
            self.open()
        assert self.backend is not None
        return self.send_message(build_message(delivery, connection=self.backend))

    def send_message(self, message: EmailMessage) -> Sent:
        """One message within EMAIL_TIMEOUT: the watchdog cuts a slow server off."""
        with Deadline(float(settings.EMAIL_TIMEOUT)) as deadline:
            try:
                return self._send(message)
            except TransportError:
                if deadline.expired:
                    self.close()
                    raise _timed_out(settings.EMAIL_TIMEOUT) from None
                raise

    def _send(self, message: EmailMessage) -> Sent:
        assert self.backend is not None
        try:
            if not self._open:
                self.backend.open()  # kept open for the whole run, reopened after a failure
                self._open = True
            sock = getattr(getattr(self.backend, "connection", None), "sock", None)
            if isinstance(sock, socket.socket):
                watch(sock)
            sent = self.backend.send_messages([message])
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise _reply_error(code, reply) from None
        except smtplib.SMTPResponseException as error:
            if error.smtp_code == 421:  # the server is closing the connection
                self.close()
            raise _reply_error(error.smtp_code, error.smtp_error) from None
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise TransportError(redact(f"SMTP connection failed: {error}")[:400]) from None
        if not sent:
            raise TransportError("the email backend sent nothing")
        is_smtp = isinstance(self.backend, SmtpBackend)
        return Sent(250 if is_smtp else None, "accepted" if is_smtp else "handed to the backend")


class _WatchedSMTP(smtplib.SMTP):
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        watch(sock, copy=True)  # the greeting, STARTTLS and all after it: under the deadline
        return sock


class _WatchedSMTPSSL(smtplib.SMTP_SSL):
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        watch(sock, copy=True)
        return sock


class DeadlineSmtpBackend(SmtpBackend):
    """Django's SMTP backend whose connections are under the sending thread's deadline."""

    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return _WatchedSMTPSSL if self.use_ssl else _WatchedSMTP


def _backend() -> str:
    name: str = settings.EMAIL_BACKEND
    if name == "django.core.mail.backends.smtp.EmailBackend":
        return f"{__name__}.DeadlineSmtpBackend"
    return name


def _timed_out(seconds: float) -> TransportError:
    return TransportError(
        f"SMTP timed out: not sent within {seconds:g} s (EMAIL_TIMEOUT)", timed_out=True
    )


def _reply_error(code: int, reply: bytes | str) -> TransportError:
    text = reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else str(reply)
    return TransportError(
        redact(f"SMTP {code} {text}")[:400],
        permanent=not is_transient_smtp(code),
        status_code=code,
        response=redact(text)[:1000],
    )
