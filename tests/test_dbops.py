"""One lock-timeout helper for the live path, the purge and idempotency keys (issue 23)."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection, connections, transaction

from common.dbops import atomic_with_lock_timeout, is_lock_timeout
from tests.retention_data import batch as make_batch

pytestmark = pytest.mark.django_db(transaction=True)


def lock_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        return str(cursor.fetchone()[0])


def test_the_limit_holds_in_the_block_and_a_nested_block_lifts_it_when_it_ends():
    default = lock_timeout()
    with atomic_with_lock_timeout(1.5):
        assert lock_timeout() == "1500ms"
    assert lock_timeout() == default
    with transaction.atomic():
        with atomic_with_lock_timeout(0.25):
            assert lock_timeout() == "250ms"
        assert lock_timeout() == default  # the rest of the outer transaction waits as usual


def test_a_held_lock_ends_the_wait_with_a_lock_timeout_error():
    batch = make_batch()
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("SELECT 1 FROM tasks_batch WHERE id = %s FOR UPDATE", [batch.id])
        with pytest.raises(OperationalError) as raised, atomic_with_lock_timeout(0.1):
            type(batch).objects.select_for_update().get(id=batch.id)
    finally:
        other.rollback()
        other.close()
    assert is_lock_timeout(raised.value)
