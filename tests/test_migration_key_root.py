"""Migration 0007 fills Batch.key_root for existing batches (prefix, or the keys' start)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("tasks", "0006_revocations")]
AFTER = [("tasks", "0007_batch_key_root")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_batches_get_their_key_root():
    old = migrate(BEFORE)
    Batch, ShareLink = old.get_model("tasks", "Batch"), old.get_model("tasks", "ShareLink")
    BatchChunk = old.get_model("tasks", "BatchChunk")
    common = {"bucket": "b", "expires_in": 60}
    by_prefix = Batch.objects.create(source="prefix", prefix="finance/q1/", **common)
    signed = Batch.objects.create(source="keys", **common)
    pending = Batch.objects.create(source="keys", **common)
    now = timezone.now()
    for key in ("finance/q2/b.pdf", "finance/q2/a.pdf", "finance/q2/ab.pdf"):
        ShareLink.objects.create(
            batch=signed, bucket="b", key=key, url="u", issued_at=now, expires_at=now, ttl=60
        )
    BatchChunk.objects.create(batch=pending, index=0, keys=["hr/x.txt", "hr/y.txt"])

    new = migrate(AFTER)
    try:
        roots = dict(new.get_model("tasks", "Batch").objects.values_list("id", "key_root"))
        assert roots == {by_prefix.id: "finance/q1/", signed.id: "finance/q2/", pending.id: "hr/"}
    finally:
        migrate(executor_leaf())


def executor_leaf():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()
