"""Credentials read through botocore's chain, with the expiry of temporary ones."""

from __future__ import annotations

from datetime import datetime

from botocore.credentials import Credentials as BotoCredentials

from signing.sigv4 import Credentials


class CredentialsUnavailable(RuntimeError):
    pass


class CredentialSource:
    """Current credentials and when they die (None for long-lived keys).

    Refreshable credentials (STS, instance roles) are refreshed by botocore
    as their expiry nears; each call returns the current frozen set.
    """

    def __init__(self, credentials: BotoCredentials | None) -> None:
        if credentials is None:
            raise CredentialsUnavailable(
                "no AWS credentials found: set DJANGO_AWS_ACCESS_KEY_ID and "
                "DJANGO_AWS_SECRET_ACCESS_KEY, or provide a role / profile"
            )
        self._credentials = credentials

    def current(self) -> tuple[Credentials, datetime | None]:
        frozen = self._credentials.get_frozen_credentials()
        creds = Credentials(frozen.access_key, frozen.secret_key, frozen.token or None)
        return creds, self.expiry()

    def expiry(self) -> datetime | None:
        # RefreshableCredentials keep their expiry here; static credentials have none.
        return getattr(self._credentials, "_expiry_time", None)
