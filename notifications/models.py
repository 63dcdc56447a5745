"""Who receives links: people (email) and programs (webhooks)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Recipient(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "email"
        WEBHOOK = "webhook", "webhook"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="recipients",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    email = models.EmailField(blank=True)
    url = models.URLField(max_length=2048, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="recipient_has_its_address",
                condition=(
                    models.Q(kind="email", url="") & ~models.Q(email="")
                    | models.Q(kind="webhook", email="") & ~models.Q(url="")
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.email or self.url}"
