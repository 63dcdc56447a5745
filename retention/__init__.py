"""Retention of link records: ended links with their batches, schedule runs, manifests.

`run.purge_all` composes this app's purges with retention's (each app purges
its own tables); the beat task `retention.purge_expired_records` and `manage.py purge` call it.
"""
