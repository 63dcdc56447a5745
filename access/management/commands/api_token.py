"""`manage.py api_token USERNAME [--create] [--grant PREFIX ...] [--rotate] [--expires-in 90d]
[--scope PREFIX ...]`.

Prints the new token alone on standard output, once (it is stored hashed): a script can
take it with TOKEN=$(python manage.py api_token alice). Notes go to standard error.
`--create` makes the user when there is none (no password: an API user, not an admin user);
`--grant` lets the user share keys under a prefix ("" = the whole bucket), as admin →
Key grants does, so a first token works in one command.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from access.models import KeyGrant
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
        parser.add_argument(
            "--create", action="store_true", help="create the user when there is none"
        )
        parser.add_argument(
            "--grant",
            action="append",
            default=[],
            metavar="PREFIX",
            help="let the user share keys under PREFIX (repeatable; '' = the whole bucket)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        expires_in = self.seconds(options["expires_in"])
        with transaction.atomic():  # a refused grant or scope leaves no user and no token
            user = self.user(options["username"], create=options["create"])
            self.grant(user, options["grant"])
            row, token = self.issue(user, expires_in, options)
        until = row.expires_at.isoformat() if row.expires_at else "never"
        self.stderr.write(f"token {row.hint}… for {user}, expires {until}; shown once:")
        self.stdout.write(token)

    @staticmethod
    def issue(user: Any, expires_in: int | None, options: dict[str, Any]) -> Any:
        try:
            return issue(
                user,
                expires_in=expires_in,
                rotate=options["rotate"],
                name=options["name"],
                prefixes=options["scope"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None

    def user(self, username: str, *, create: bool) -> Any:
        model = get_user_model()
        try:
            return model.objects.get(**{model.USERNAME_FIELD: username})
        except model.DoesNotExist:
            if not create:
                raise CommandError(
                    f"no user named {username!r} (--create makes one; --grant PREFIX lets "
                    "them share keys under it)"
                ) from None
        user = model.objects.create_user(**{model.USERNAME_FIELD: username})
        self.stderr.write(f"created user {username!r}")
        return user

    def grant(self, user: Any, prefixes: list[str]) -> None:
        for prefix in prefixes:
            grant = KeyGrant(user=user, prefix=prefix)
            try:
                grant.clean()
            except ValidationError as error:
                raise CommandError(f"--grant {prefix!r}: {'; '.join(error.messages)}") from None
            _, new = KeyGrant.objects.get_or_create(user=user, prefix=prefix)
            shown = prefix or "the whole bucket"
            self.stderr.write(f"granted {user} {shown}" if new else f"{user} already had {shown}")

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
