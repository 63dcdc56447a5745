"""The floors beside bench_keepalive.py's rates: the least work, in one process with the paths'
chunks and a transaction each (no queue, no lease, no existence check, no event), that
- stores new links: sign_many(), then the bulk path's binary COPY into the link table, in
  chunks of LINKS_CHUNK_SIZE;
- re-signs due links in place: read the next LINKS_REFRESH_CHUNK due (the due index, in its
  order), sign them, then the refresher's own save (a binary COPY into a scratch table, one
  UPDATE).
Both run on the same table, so their ratio is what re-signing a link costs against storing
one on this data model: the refresh/bulk ratio cannot go above it but by doing less than
the floor does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings

from bench.s3_standin import synthetic_key


def store_new(first: int, count: int, ttl: int) -> None:
    """`count` new links of the keys from `first` in a batch of their own."""
    from django.db import transaction

    from media.signing import LinkRequest, sign_many
    from tasks.batches.linkstore import NewLink, copy_into_table, new_tokens
    from tasks.models import Batch

    batch = Batch.objects.create(source=Batch.Source.KEYS, bucket="floor", expires_in=ttl)
    size, end = settings.LINKS_CHUNK_SIZE, first + count
    for start in range(first, end, size):
        keys = [synthetic_key(number) for number in range(start, min(start + size, end))]
        with transaction.atomic():
            signed = sign_many(LinkRequest(key, ttl) for key in keys)
            links = [
                NewLink(key, new.url, new.issued_at, new.expires_at, None, token)
                for key, new, token in zip(keys, signed, new_tokens(len(keys)), strict=True)
            ]
            copy_into_table(batch, links)


def resign_due(ttl: int) -> int:
    """Re-sign every link due now, chunk by chunk in the due index's order; how many."""
    from django.db import connection, transaction
    from django.utils import timezone

    from media.signing import LinkRequest, sign_many
    from tasks.models import ShareLink
    from tasks.refresh.resign import save

    now = timezone.now()
    select = (
        f"SELECT id, key, filename, version FROM {ShareLink._meta.db_table} "  # noqa: S608
        "WHERE status = 'active' AND refresh_at IS NOT NULL AND refresh_at <= %s "
        "ORDER BY refresh_at, id LIMIT %s"
    )
    done = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(select, [now, settings.LINKS_REFRESH_CHUNK])
            rows = cursor.fetchall()
            if not rows:
                return done
            signed = sign_many(LinkRequest(key, ttl, filename) for _, key, filename, _ in rows)
            new = [
                resigned(link_id, version, url, ttl)
                for (link_id, _, _, version), url in zip(rows, signed, strict=True)
            ]
            done += len(save(new, now))


def resigned(link_id: int, version: int, signed: Any, ttl: int) -> Any:
    """The new signature, due again at 80 % of its life (in the future: out of the due range)."""
    from tasks.refresh.resign import Resigned

    refresh_at = signed.issued_at + timedelta(seconds=ttl * 0.8)
    return Resigned(link_id, signed.url, signed.issued_at, signed.expires_at, refresh_at, version)


def timed(meter: Any, work: Callable[[], Any]) -> tuple[float, float]:
    """Seconds and CPU seconds (the meter's processes) of work()."""
    cpu, started = meter.seconds(), time.perf_counter()
    work()
    return time.perf_counter() - started, meter.seconds() - cpu
