"""common.idlists.id_in: the rows of Q(id__in=...) with the ids as one array parameter."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.idlists import id_in
from tasks.models import Batch, ShareLink

pytestmark = pytest.mark.django_db


def make_links(count: int) -> list[int]:
    batch = Batch.objects.create(source="keys", bucket="ids", expires_in=60)
    now = timezone.now()
    links = [
        ShareLink(batch=batch, bucket="ids", key=f"k/{n}", url="u", issued_at=now,
                  expires_at=now, ttl=60)
        for n in range(count)
    ]  # fmt: skip
    return [link.id for link in ShareLink.objects.bulk_create(links)]


def test_the_same_rows_as_an_in_list_with_one_parameter():
    ids = make_links(30)
    wanted = [*ids[::3], max(ids) + 1000]  # and one that is not there

    with CaptureQueriesContext(connection) as queries:
        found = sorted(ShareLink.objects.filter(id_in(wanted)).values_list("id", flat=True))

    assert found == sorted(ShareLink.objects.filter(id__in=wanted).values_list("id", flat=True))
    assert found == ids[::3]
    assert "= ANY(" in queries[0]["sql"] and str(ids[3]) not in queries[0]["sql"].split("ANY")[0]
    assert ShareLink.objects.filter(id_in(wanted)).update(url="v") == len(ids[::3])


def test_no_ids_no_rows_and_no_query():
    make_links(2)
    with CaptureQueriesContext(connection) as queries:
        assert list(ShareLink.objects.filter(id_in([]))) == []
        assert ShareLink.objects.filter(id_in([])).update(url="v") == 0
    assert len(queries) == 0
