"""Handing PostgreSQL many rows fast: COPY into a temporary table emptied at commit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def copy_to_scratch(
    cursor: Any, name: str, columns: Mapping[str, str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """Fill the scratch table `name` (column -> SQL type) with rows; inside a transaction."""
    definitions = ", ".join(f"{column} {kind}" for column, kind in columns.items())
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({definitions}) ON COMMIT DELETE ROWS")
    with cursor.cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
