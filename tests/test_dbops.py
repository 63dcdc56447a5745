"""One lock-timeout helper for the live path, the purge and idempotency keys (issue 23)."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection, connections, transaction

from common.dbops import atomic_with_lock_timeout, commit_without_waiting_for_disk, is_lock_timeout
from tests.retention_data import batch as make_batch

pytestmark = pytest.mark.django_db(transaction=True)


def shown(setting: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {setting}")
        return str(cursor.fetchone()[0])


def lock_timeout() -> str:
    return shown("lock_timeout")


def test_a_commit_without_waiting_for_disk_is_this_transactions_only():
    with transaction.atomic():
        commit_without_waiting_for_disk()
        assert shown("synchronous_commit") == "off"
        make_batch()
    assert shown("synchronous_commit") == "on"
    commit_without_waiting_for_disk()  # outside a transaction: nothing changes
    assert shown("synchronous_commit") == "on"


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
