"""The delivery benchmarks' one reset: empty every outbox table between runs."""

from __future__ import annotations


def fresh_delivery_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE notifications_attempt, notifications_delivery, notifications_messagebody, "
            "notifications_webhooksecret, notifications_recipient CASCADE"
        )
