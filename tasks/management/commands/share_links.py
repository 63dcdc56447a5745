"""`share_links`: sign a batch of links through the workers, wait, export CSV or JSON."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.envparse import duration_seconds
from notifications.recipients import RecipientError, parse_cli_spec
from tasks.batches.issuing import CreatedBatch, StorageUnavailable, create_batch
from tasks.batches.spec import BatchInputError, BatchRequest
from tasks.events.export import PIECES, export_rows
from tasks.management.clitools import (
    NoWorker,
    WaitStalled,
    flag_for,
    parse_until,
    read_keys,
    require_worker,
    wait_for,
)
from tasks.models import Batch


def duration(text: str) -> int:
    try:
        return duration_seconds(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class Command(BaseCommand):
    help = (
        "Sign links for a prefix or a list of keys in a batch (Celery workers do the signing); "
        "with --wait, follow it and write the export."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--prefix", help="share every object whose key starts with this")
        source.add_argument("--key", action="append", help="an object key (repeat for several)")
        source.add_argument(
            "--keys-from", metavar="FILE", help="a file of keys, one a line (- for stdin)"
        )
        parser.add_argument(
            "--expires-in",
            type=duration,
            metavar="DURATION",
            help="how long each link lives: 3600, 90m, 2h, 7d (default LINKS_DEFAULT_EXPIRES_IN)",
        )
        parser.add_argument(
            "--to",
            action="append",
            default=[],
            metavar="SPEC",
            help="a recipient: email:ADDRESS or webhook:URL (repeat for several)",
        )
        parser.add_argument(
            "--refresh",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="re-sign the links before they lapse (default: on when --until is given)",
        )
        parser.add_argument("--until", help="keep refreshing until this date or ISO date-time")
        parser.add_argument(
            "--notify-lapsed",
            action="store_true",
            help="send the recipients a links.lapsed event when links lapse",
        )
        parser.add_argument(
            "--filename-from-key",
            action="store_true",
            help="downloads are saved under the key's last part",
        )
        parser.add_argument(
            "--check-existence",
            action="store_true",
            help="report keys with no object (HEAD per key) instead of signing them",
        )
        parser.add_argument("--format", choices=sorted(PIECES), help="export format (default csv)")
        parser.add_argument(
            "--output", metavar="FILE", help="write the export here (default stdout)"
        )
        parser.add_argument(
            "--wait", action="store_true", help="follow the batch to its end and export it"
        )
        parser.add_argument(
            "--stall-timeout",
            type=duration,
            default=120,
            metavar="DURATION",
            help="with --wait: give up when nothing moves for this long (default 120 s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["wait"] and (options["format"] or options["output"]):
            raise CommandError(
                "--format and --output write the export once the links are signed: add --wait"
            )
        request = self.batch_request(options)
        if options["wait"]:
            self.check_worker()
        created = self.create(request, options["to"])
        batch = created.batch
        size = f"{batch.total} keys" if batch.total else f"listing {batch.prefix!r}"
        self.say(f"batch {batch.id}: {size} ({batch.status})")
        for recipient, secret in created.secrets:
            self.say(f"webhook secret for {recipient.url} (shown once, keep it): {secret}")
        if not options["wait"]:
            self.say(
                "the workers sign it in the background; follow it in the admin: "
                f"/admin/tasks/batch/{batch.id}/change/"
            )
            return
        batch = self.follow(batch, options["stall_timeout"])
        self.write_export(batch, options["format"] or "csv", options["output"])

    def say(self, text: str) -> None:
        self.stderr.write(text, style_func=lambda line: line)

    def batch_request(self, options: dict[str, Any]) -> BatchRequest:
        keys = options["key"]
        if options["keys_from"]:
            keys = self.read_key_file(options["keys_from"])
        try:
            until = parse_until(options["until"]) if options["until"] else None
        except ValueError as error:
            raise CommandError(f"--until: {error}") from None
        expires_in = options["expires_in"]
        return BatchRequest(
            keys=keys,
            prefix=options["prefix"],
            expires_in=settings.LINKS_DEFAULT_EXPIRES_IN if expires_in is None else expires_in,
            filename_from_key=options["filename_from_key"],
            check_existence=options["check_existence"],
            refresh=options["refresh"],
            refresh_until=until,
            recipients=[self.recipient_spec(text) for text in options["to"]],
            notify_lapsed=options["notify_lapsed"],
        )

    @staticmethod
    def read_key_file(name: str) -> list[str]:
        try:
            if name == "-":
                return read_keys(sys.stdin)
            with open(name, encoding="utf-8") as lines:
                return read_keys(lines)
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"--keys-from {name}: {error}") from None

    @staticmethod
    def recipient_spec(text: str) -> dict[str, Any]:
        try:
            return parse_cli_spec(text)
        except RecipientError as error:
            raise CommandError(f"--to {text}: {error}") from None

    def check_worker(self) -> None:
        try:
            require_worker()
        except NoWorker as error:
            raise CommandError(f"{error}; nothing was created") from None

    def create(self, request: BatchRequest, specs: list[str]) -> CreatedBatch:
        try:
            return create_batch(request)
        except BatchInputError as error:
            flag = flag_for(error.field, specs)
            raise CommandError(f"{flag}: {error.message}; nothing was created") from None
        except StorageUnavailable as error:
            raise CommandError(f"{error}; nothing was created") from None

    def follow(self, batch: Batch, stall_timeout: int) -> Batch:
        try:
            batch = wait_for(
                batch, stall_timeout=stall_timeout, stream=cast(TextIO, self.stderr._out)
            )
        except WaitStalled as error:
            raise CommandError(str(error)) from None
        if batch.status == Batch.Status.FAILED:
            raise CommandError(f"batch {batch.id} failed: {batch.error}")
        note = f" ({batch.error})" if batch.error else ""
        self.say(
            f"batch {batch.id} {batch.status}: {batch.signed} links, {batch.skipped} keys "
            f"skipped, {batch.failed} failed{note}"
        )
        return batch

    def write_export(self, batch: Batch, fmt: str, output: str | None) -> None:
        with self.destination(output) as out:
            for piece in PIECES[fmt](export_rows(batch)):
                out.write(piece)
        if output:
            self.say(f"wrote {output} ({fmt})")

    @contextmanager
    def destination(self, output: str | None) -> Iterator[TextIO]:
        if not output:
            yield cast(TextIO, self.stdout._out)
            return
        try:
            with Path(output).open("w", encoding="utf-8", newline="") as out:
                yield out
        except OSError as error:
            raise CommandError(f"--output {output}: {error}") from None
