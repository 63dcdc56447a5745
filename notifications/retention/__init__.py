"""Retention of the delivery records: this app purges its own tables (tasks composes the run)."""
