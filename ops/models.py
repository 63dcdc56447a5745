"""Heartbeats: when beat last sent one, and when a worker last took one from each queue."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """One row per source: `beat`, or `queue:<name>` for a worker that consumed from it."""

    name = models.CharField(max_length=200, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.at:%Y-%m-%d %H:%M:%S}"
