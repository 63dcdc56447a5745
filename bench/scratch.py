"""A benchmark's scratch PostgreSQL database: made anew for a run, dropped at its end."""

from __future__ import annotations

import psycopg

SERVER = "postgres://postgres@127.0.0.1:5432"


def database_url(database: str) -> str:
    return f"{SERVER}/{database}"


def recreate(database: str) -> str:
    """An empty database of that name (any old one dropped); returns its URL."""
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {database}")
    return database_url(database)


def drop(database: str) -> None:
    """Close this process's Django connections, then drop the database."""
    from django.db import connections

    connections.close_all()
    with psycopg.connect(database_url("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
