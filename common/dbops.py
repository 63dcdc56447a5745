"""Database operations that never hold the live path up for long: transactions whose lock
waits end, and migrations that build indexes without locking their table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import connection, transaction

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout ran out


@contextmanager
def atomic_with_lock_timeout(seconds: float) -> Iterator[None]:
    """transaction.atomic() in which a statement waits at most `seconds` for a lock, then
    fails with OperationalError (`is_lock_timeout`). Nested in a transaction (a savepoint),
    the outer transaction's later statements wait as before. PostgreSQL; SQLite never waits.
    """
    nested = connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor != "postgresql":
            yield
            return
        milliseconds = f"{round(seconds * 1000)}ms"
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [milliseconds])
        yield
        if nested:  # SET LOCAL outlives a savepoint: the rest of the transaction waits as usual
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = DEFAULT")


def commit_without_waiting_for_disk() -> None:
    """The current transaction's commit does not wait for its WAL to reach the disk
    (`synchronous_commit = off`, this transaction only): a crash of the database server in the
    next instants may lose it whole, never half of it. For writes whose loss is harmless, so that
    a worker does not idle a disk flush per commit. PostgreSQL, inside a transaction."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def update_named_row(model: Any, name: str, **changes: Any) -> None:
    """Apply `changes` (values or F() expressions) to the one row of `model` named `name`,
    made with its defaults first if missing: the counters /healthz reads (meters, outcomes)."""
    model.objects.get_or_create(name=name)
    model.objects.filter(name=name).update(**changes)


def is_lock_timeout(error: BaseException) -> bool:
    cause = getattr(error, "__cause__", None)
    return getattr(cause, "sqlstate", None) == LOCK_NOT_AVAILABLE


class AddIndexWithoutLocking(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL (writes go on while it builds: the migration
    is not atomic); a plain CREATE INDEX elsewhere (SQLite in the demo)."""

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, *args)
        else:
            model = args[1].apps.get_model(app_label, self.model_name)
            schema_editor.add_index(model, self.index)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, *args)
        else:
            model = args[0].apps.get_model(app_label, self.model_name)
            schema_editor.remove_index(model, self.index)
