"""Who may do what: key grants (prefixes a user may share) and API tokens (stored hashed)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from access.scopes import grant_problem
from signing.signer import MAX_KEY_BYTES


class KeyGrant(models.Model):
    """A user may share the objects whose keys start with `prefix` ('' = the whole bucket)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="key_grants"
    )
    prefix = models.CharField(
        max_length=MAX_KEY_BYTES,
        blank=True,
        help_text="A folder such as 'reports/finance/' (ends with '/'); empty: the whole bucket "
        "except the project's reserved prefix.",
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user", "prefix"]
        constraints = [
            models.UniqueConstraint(fields=["user", "prefix"], name="one_grant_per_user_prefix")
        ]

    def __str__(self) -> str:
        return f"{self.user} may share {self.prefix or '(whole bucket)'}"

    def clean(self) -> None:
        problem = grant_problem(self.prefix)
        if problem:
            raise ValidationError({"prefix": problem})


class ApiToken(models.Model):
    """An API token: only its SHA-256 digest is stored; the token itself is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(
        max_length=16, editable=False, help_text="The token's first characters, to recognise it."
    )
    prefixes = models.JSONField(
        default=list,
        blank=True,
        help_text="Narrows the user's grants for this token: a list of prefixes; empty: "
        "the user's grants as they are.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user", "-created_at"]

    def __str__(self) -> str:
        return f"{self.hint}… ({self.user})"

    def is_expired(self, now: object = None) -> bool:
        moment = now or timezone.now()
        return self.expires_at is not None and self.expires_at <= moment  # type: ignore[operator]

    def clean(self) -> None:
        if not isinstance(self.prefixes, list) or not all(
            isinstance(p, str) for p in self.prefixes
        ):
            raise ValidationError({"prefixes": 'a list of prefixes, e.g. ["reports/"]'})
        for prefix in self.prefixes:
            problem = grant_problem(prefix)
            if problem:
                raise ValidationError({"prefixes": f"{prefix!r}: {problem}"})
