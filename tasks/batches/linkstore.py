"""Writing a claimed chunk's links in bulk, each (batch, key) once.

PostgreSQL: one COPY straight into the link table. The chunk's claim (tasks.batches.progress) makes
its run the only writer of its keys, so nothing is there yet; should a (batch, key) be there
all the same, the COPY is rolled back to a savepoint and the links go the slower way, a COPY
into a per-transaction scratch table then INSERT … ON CONFLICT DO NOTHING, which stores the
missing ones. Other databases (the demo's SQLite): bulk_create(ignore_conflicts=True).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tasks.batches.scratch import copy_to_scratch
from tasks.models import Batch, ShareLink, new_token

INSERT_BATCH = 1000
SCRATCH = "incoming_share_links"
SCRATCH_COLUMNS = {
    "key": "text",
    "filename": "text",
    "url": "text",
    "issued_at": "timestamptz",
    "expires_at": "timestamptz",
    "token": "text",
    "refresh_at": "timestamptz",
}
VARYING = tuple(SCRATCH_COLUMNS)
SHARED = ("batch_id", "bucket", "ttl", "version", "status", "refresh_until")
STAMPS = ("created_at", "updated_at")
# The columns' types, for a binary COPY (a fifth of a text COPY's cost, both sides): the
# values are sent as PostgreSQL stores them, with no text to format and parse.
TYPES = {
    "batch_id": "uuid",
    "bucket": "varchar",
    "ttl": "int4",
    "version": "int4",
    "status": "varchar",
    "refresh_until": "timestamptz",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
    "key": "varchar",
    "filename": "varchar",
    "url": "text",
    "issued_at": "timestamptz",
    "expires_at": "timestamptz",
    "token": "varchar",
    "refresh_at": "timestamptz",
}
TOKEN_BYTES = 24  # as new_token: 192 bits, 32 URL-safe characters


@dataclass(frozen=True, slots=True)
class NewLink:
    key: str
    url: str
    issued_at: datetime
    expires_at: datetime
    filename: str | None = None
    token: str = field(default_factory=new_token)
    refresh_at: datetime | None = None


def new_tokens(count: int) -> list[str]:
    """`count` tokens of new_token()'s form from one call to the system's random source."""
    # 24 bytes are 32 base64 characters with no padding, so one encoding cuts into tokens.
    text = base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES * count)).decode()
    width = TOKEN_BYTES * 4 // 3
    return [text[start : start + width] for start in range(0, len(text), width)]


def insert_links(batch: Batch, links: Sequence[NewLink]) -> None:
    """Insert the links that are not there yet; call inside a transaction."""
    if not links:
        return
    if connection.vendor == "postgresql":
        copy_links(batch, links)
    else:
        models = [as_model(batch, link) for link in links]
        ShareLink.objects.bulk_create(models, batch_size=INSERT_BATCH, ignore_conflicts=True)


def refresh_until(batch: Batch) -> datetime | None:
    return batch.refresh_until if batch.refresh else None


def as_model(batch: Batch, link: NewLink) -> ShareLink:
    return ShareLink(
        batch=batch,
        bucket=batch.bucket,
        ttl=batch.expires_in,
        refresh_until=refresh_until(batch),
        **{name: getattr(link, name) for name in VARYING},
    )


def shared_values(batch: Batch) -> tuple[Any, ...]:
    """The values every new link of the batch has, in SHARED + STAMPS order."""
    now = timezone.now()
    status = str(ShareLink.Status.ACTIVE)
    return (batch.id, batch.bucket, batch.expires_in, 1, status, refresh_until(batch), now, now)


def copy_links(batch: Batch, links: Sequence[NewLink]) -> None:
    try:
        with transaction.atomic():  # a savepoint: a conflict undoes the COPY alone
            copy_into_table(batch, links)
    except IntegrityError:
        insert_missing(batch, links)


def rows(batch: Batch, links: Sequence[NewLink]) -> Iterator[tuple[Any, ...]]:
    shared = shared_values(batch)
    for link in links:
        yield (
            *shared,
            link.key,
            link.filename,
            link.url,
            link.issued_at,
            link.expires_at,
            link.token,
            link.refresh_at,
        )


def copy_into_table(batch: Batch, links: Sequence[NewLink]) -> None:
    table = ShareLink._meta.db_table
    names = (*SHARED, *STAMPS, *VARYING)
    statement = f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
    with (
        connection.wrap_database_errors,  # psycopg's IntegrityError as Django's
        connection.cursor() as cursor,
        cursor.cursor.copy(statement) as copy,
    ):
        copy.set_types([TYPES[name] for name in names])
        for row in rows(batch, links):
            copy.write_row(row)


def insert_missing(batch: Batch, links: Sequence[NewLink]) -> None:
    """The links whose (batch, key) is not stored yet, through a scratch table."""
    table = ShareLink._meta.db_table
    columns = ", ".join(VARYING)
    with connection.cursor() as cursor:
        values = (tuple(getattr(link, name) for name in VARYING) for link in links)
        copy_to_scratch(cursor, SCRATCH, SCRATCH_COLUMNS, values)
        cursor.execute(
            f"INSERT INTO {table} ({', '.join((*SHARED, *STAMPS))}, {columns}) "  # noqa: S608 - names are constants
            f"SELECT %s, %s, %s, %s, %s, %s, %s, %s, {columns} FROM {SCRATCH} "
            "ON CONFLICT DO NOTHING",
            list(shared_values(batch)),
        )
