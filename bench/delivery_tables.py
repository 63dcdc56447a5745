"""The delivery benchmarks' tables: emptied between runs, analysed once filled."""

from __future__ import annotations


def fresh_delivery_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE notifications_attempt, notifications_delivery, notifications_messagebody, "
            "notifications_webhooksecret, notifications_recipient CASCADE"
        )


def analyze_delivery_tables() -> None:
    """Statistics for the rows just written, as autovacuum keeps them in service: without,
    the planner guesses at a table it has never seen filled."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE notifications_delivery, notifications_recipient")


def checkpoint() -> None:
    """Flush what filling the tables wrote (the WAL and dirty pages) before a timed run, so that
    a checkpoint does not do it during the run (a superuser's right: the benches' own server)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
