"""Claiming, finishing and replaying idempotency keys.

A request that carries a key first claims it in a transaction of its own (the unique
constraint on owner and key decides who was first, whatever the database). The work and the
stored answer then commit together, so a key is either finished with the answer of work that
was committed, or unfinished with no work committed: a retry can never make a second row.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.encryption import SecretUnreadable, decrypt, encrypt

from .models import IdempotencyKey

# How long a key is remembered: a retry within this window gets the first answer.
KEEP_FOR = timedelta(hours=24)
# A claim this old with no answer belongs to a request that died (its work was rolled back
# with it); a retry may take the key over. Longer than any request is allowed to run.
ABANDONED_AFTER = timedelta(minutes=2)
# Printable ASCII without leading or trailing spaces, as the header carries it.
KEY_SHAPE = re.compile(r"[!-~]([ -~]{0,253}[!-~])?")


class InvalidKey(ValueError):
    """The header is not a usable key."""


class KeyInUse(Exception):
    """The first request with this key is still running."""


class AnswerUnreadable(Exception):
    """The first answer was sealed with an encryption key Seams no longer has."""


class KeyReused(Exception):
    """The key was first used for a different request."""

    def __init__(self, first: IdempotencyKey) -> None:
        self.first = first
        super().__init__(f"key first used for {first.method} {first.path}")


@dataclass(frozen=True)
class Replay:
    """The first answer given to a key, to send again."""

    status: int
    body: Any
    headers: dict[str, str]


def check_key(key: str) -> str:
    """The key as sent, or InvalidKey saying what a key must look like."""
    if not KEY_SHAPE.fullmatch(key):
        raise InvalidKey(
            "Idempotency-Key must be 1 to 255 printable ASCII characters (a UUID is a good key)."
        )
    return key


def request_digest(method: str, path: str, body: bytes) -> str:
    """What identifies a request for a key: the same method, path and body bytes."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def begin(*, owner: str, key: str, method: str, path: str, body: bytes) -> IdempotencyKey | Replay:
    """Claim `key` for this request, or say what happened to it before.

    Returns the claimed row (the caller does the work and calls `finish` or `release`), or
    the first answer to replay. Raises KeyReused for a different request under the same key
    and KeyInUse while the first request with it is still running.
    """
    digest = request_digest(method, path, body)
    now = timezone.now()
    # An expired key is forgotten on sight; the periodic cleanup catches the rest.
    IdempotencyKey.objects.filter(owner=owner, key=key, created_at__lt=now - KEEP_FOR).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                owner=owner, key=key, method=method, path=path, request_digest=digest
            )
    except IntegrityError:
        pass  # someone claimed it first: see below what they made of it
    first = IdempotencyKey.objects.filter(owner=owner, key=key).first()
    if first is None:
        raise KeyInUse  # released by a failed first request a moment ago: retry
    if first.request_digest != digest:
        raise KeyReused(first)
    if first.status is not None:
        return Replay(first.status, _opened(first), first.response_headers)
    if first.created_at > now - ABANDONED_AFTER:
        raise KeyInUse
    attempt = uuid.uuid4()
    taken = IdempotencyKey.objects.filter(
        pk=first.pk, attempt=first.attempt, status__isnull=True
    ).update(attempt=attempt, created_at=now)
    if not taken:
        raise KeyInUse
    first.attempt, first.created_at = attempt, now
    return first


def hold(claim: IdempotencyKey) -> bool:
    """Lock the claim for the work; call first inside the work's transaction.

    A write as the first statement: on PostgreSQL it holds the key's row until commit, so a
    takeover waits for this request to finish; on SQLite it takes the write lock before
    anything is read. False when the claim was taken over meanwhile.
    """
    return bool(
        IdempotencyKey.objects.filter(
            pk=claim.pk, attempt=claim.attempt, status__isnull=True
        ).update(created_at=claim.created_at)
    )


def _opened(first: IdempotencyKey) -> Any:
    """The first answer's body; AnswerUnreadable when it was sealed with a key now gone."""
    stored = first.response_body
    if first.sealed:
        try:
            stored = decrypt(stored)
        except SecretUnreadable as error:
            raise AnswerUnreadable(str(error)) from error
    return json.loads(stored)


def finish(
    claim: IdempotencyKey,
    *,
    status: int,
    body: Any,
    headers: dict[str, str],
    sealed: bool = False,
) -> bool:
    """Store the answer under the key, in the work's transaction. False if taken over.

    `sealed` stores it encrypted: for an answer that carries a secret."""
    stored = json.dumps(body, cls=DjangoJSONEncoder)
    return bool(
        IdempotencyKey.objects.filter(
            pk=claim.pk, attempt=claim.attempt, status__isnull=True
        ).update(
            status=status,
            response_body=encrypt(stored) if sealed else stored,
            response_headers=headers,
            sealed=sealed,
        )
    )


def release(claim: IdempotencyKey) -> None:
    """Give the key back after a request that changed nothing, so a retry runs afresh."""
    IdempotencyKey.objects.filter(pk=claim.pk, attempt=claim.attempt, status__isnull=True).delete()


def forget_expired() -> int:
    """Delete keys older than KEEP_FOR; returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - KEEP_FOR).delete()
    return deleted
