"""Periodic cleanup of idempotency keys past their 24 hours."""

from __future__ import annotations

from celery import shared_task

from . import keys


@shared_task(name="idempotency.forget_expired_keys")
def forget_expired_keys() -> int:
    """Delete expired keys (a key is also forgotten when it is next sent after expiry)."""
    return keys.forget_expired()
