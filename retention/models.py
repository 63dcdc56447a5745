from __future__ import annotations

from django.db import models


class RetentionOutcome(models.Model):
    """How the purge runs went (one row, `retention`): when one last completed and when one
    last left work undone (a lock it would wait for, a manifest the bucket refused), shown by
    /healthz."""

    name = models.CharField(max_length=40, primary_key=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_failures = models.IntegerField(default=0, help_text="Work left undone by the last run.")
    failures = models.BigIntegerField(default=0, help_text="Work left undone by purge runs, ever.")

    class Meta:
        db_table = "tasks_retentionoutcome"  # created by tasks 0011, before this app existed

    def __str__(self) -> str:
        return f"{self.name}: completed {self.completed_at}, failed {self.failed_at}"
