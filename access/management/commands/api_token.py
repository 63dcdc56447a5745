"""`manage.py api_token USERNAME [--rotate] [--expires-in 90d] [--scope PREFIX ...]`.

Prints the new token alone on standard output, once (it is stored hashed): a script can
take it with TOKEN=$(python manage.py api_token alice). Notes go to standard error.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from access.tokens import issue
from common.envparse import duration_seconds


class Command(BaseCommand):
    help = "Create an API token for a user (or rotate: revoke their others) and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true", help="revoke the user's other tokens")
        parser.add_argument(
            "--expires-in", metavar="DURATION", help="e.g. 3600, 12h, 90d (default: never)"
        )
        parser.add_argument(
            "--scope",
            action="append",
            default=[],
            metavar="PREFIX",
            help="narrow this token to keys under PREFIX (repeatable; within the user's grants)",
        )
        parser.add_argument("--name", default="", help="a label shown in the admin")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self.user(options["username"])
        expires_in = self.seconds(options["expires_in"])
        try:
            row, token = issue(
                user,
                expires_in=expires_in,
                rotate=options["rotate"],
                name=options["name"],
                prefixes=options["scope"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        until = row.expires_at.isoformat() if row.expires_at else "never"
        self.stderr.write(f"token {row.hint}… for {user}, expires {until}; shown once:")
        self.stdout.write(token)

    @staticmethod
    def user(username: str) -> Any:
        model = get_user_model()
        try:
            return model.objects.get(**{model.USERNAME_FIELD: username})
        except model.DoesNotExist:
            raise CommandError(f"no user named {username!r}") from None

    @staticmethod
    def seconds(text: str | None) -> int | None:
        if text is None:
            return None
        try:
            seconds = duration_seconds(text)
        except ValueError as error:
            raise CommandError(f"--expires-in: {error}") from None
        if seconds <= 0:
            raise CommandError("--expires-in must be more than 0 seconds")
        return seconds
