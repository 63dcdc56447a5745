"""A batch's export: one row per key (its link, or why it has none), as CSV or JSON text.

CSV is safe to open in a spreadsheet (OWASP's CSV injection advice): a cell starting with
`=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so it is shown as text
and never run as a formula, and every cell is quoted. JSON keeps values as they are.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from tasks.events.payloads import LINK_ITEM_COLUMNS, link_item
from tasks.models import Batch
from tasks.permalinks.serving import permalink_maker

COLUMNS = ("key", "url", "expires_at", "permalink", "status")
ROWS_PER_PIECE = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_rows(batch: Batch) -> Iterator[dict[str, Any]]:
    """Links by key, then the keys that got none (status: missing / invalid).

    CSV has COLUMNS; JSON rows also carry the link's id and filename.
    """
    permalink = permalink_maker()
    links = batch.links.order_by("key").only(*LINK_ITEM_COLUMNS)
    for link in links.iterator(chunk_size=2000):
        yield {**link_item(link, permalink), "status": link.status}
    for skipped in batch.skipped_keys.order_by("key").iterator(chunk_size=2000):
        yield {
            "key": skipped.key,
            "url": None,
            "expires_at": None,
            "permalink": None,
            "status": skipped.reason,
        }


def neutralised(value: Any) -> Any:
    """A cell a spreadsheet shows as text: `'` before what it would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_pieces(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(COLUMNS)
    for number, row in enumerate(rows, start=1):
        writer.writerow([neutralised(row.get(name)) for name in COLUMNS])
        if number % ROWS_PER_PIECE == 0:
            yield take(buffer)
    yield take(buffer)


def json_pieces(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array of row objects, written piece by piece."""
    separator = "[\n"
    for row in rows:
        yield separator + json.dumps(row, ensure_ascii=False)
        separator = ",\n"
    yield "[]\n" if separator == "[\n" else "\n]\n"


def take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


PIECES = {"csv": csv_pieces, "json": json_pieces}
