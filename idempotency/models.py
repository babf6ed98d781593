"""One row per `Idempotency-Key` a client sent: the request it named and the first answer."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """A key claimed by one client for one request, kept with that request's answer.

    `status` is empty while the first request is still running; `attempt` names the request
    holding such an unfinished claim, so only it can finish or release the claim. An answer
    that carries a secret (a webhook's signing secret) is `sealed`: kept encrypted like the
    secret itself, so the key table is not a second, plain copy of it.
    """

    owner = models.CharField(max_length=100, help_text="Whose key: the token, or the user.")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.TextField()
    request_digest = models.CharField(max_length=64, help_text="SHA-256 of method, path, body.")
    attempt = models.UUIDField(default=uuid.uuid4)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(
        blank=True,
        help_text="The first answer's JSON, as sent; Fernet-encrypted when `sealed`.",
    )
    sealed = models.BooleanField(
        default=False,
        help_text="The answer holds a secret and is stored encrypted (common.encryption).",
    )
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_per_owner")
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.key} → {self.status or 'running'}"
