"""`@idempotent` for DRF POST handlers: honours the `Idempotency-Key` request header."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

from django.db import transaction
from django.http.request import RawPostDataException
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from . import keys

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Headers of the first answer that a replay repeats; the rest are set afresh when it is sent.
KEPT_HEADERS = ("Location", "ETag")


class InvalidIdempotencyKey(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_idempotency_key"
    default_detail = "Idempotency-Key must be 1 to 255 printable ASCII characters."


class IdempotencyKeyInUse(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_use"
    default_detail = (
        "A request with this Idempotency-Key is still in progress; retry in a moment to get "
        "its answer."
    )


class IdempotencyAnswerUnreadable(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_answer_unreadable"
    default_detail = (
        "The first request with this Idempotency-Key was done, but its answer held a secret "
        "that was kept encrypted with a key Seams no longer has, so it cannot be sent again. "
        "Look up what the first request made; use a new key to ask again."
    )


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


def _owner(request) -> str:
    """Keys are per token (a bot's retries), or per user when signed in with a session."""
    token = getattr(request.auth, "pk", None)
    if token is not None:
        return f"token:{token}"
    return f"user:{request.user.pk}"


def _body(request) -> bytes:
    try:
        return request.body
    except RawPostDataException:  # already parsed by something before the view
        return json.dumps(request.data, sort_keys=True, default=str).encode()


def idempotent(handler: Callable | None = None, *, sealed: bool = False) -> Callable:
    """Make a POST handler answer a retried request (same key, same request) with its first
    answer instead of doing the work again.

    Only successful answers are kept: an error changed nothing, so the key is released and
    the retry runs afresh. The work and the kept answer commit in one transaction.
    `@idempotent(sealed=True)` is for an answer that carries a secret shown once (a signing
    secret): it is kept encrypted, as the secret itself is, and a retry gets the same secret
    instead of a second endpoint or a second rotation.
    """
    if handler is None:
        return functools.partial(idempotent, sealed=sealed)

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        try:
            keys.check_key(key)
        except keys.InvalidKey as bad:
            raise InvalidIdempotencyKey(str(bad)) from bad
        try:
            claim = keys.begin(
                owner=_owner(request),
                key=key,
                method=request.method,
                path=request.get_full_path(),
                body=_body(request),
            )
        except keys.KeyInUse as busy:
            raise IdempotencyKeyInUse() from busy
        except keys.AnswerUnreadable as lost:
            raise IdempotencyAnswerUnreadable() from lost
        except keys.KeyReused as reused:
            raise IdempotencyKeyReused(
                f"This Idempotency-Key was first used for a different request "
                f"({reused.first.method} {reused.first.path} with another body); use a new "
                "key for a new request."
            ) from reused
        if isinstance(claim, keys.Replay):
            return Response(
                claim.body,
                status=claim.status,
                headers={**claim.headers, REPLAYED_HEADER: "true"},
            )
        try:
            with transaction.atomic():
                if not keys.hold(claim):
                    raise IdempotencyKeyInUse()
                response = handler(view, request, *args, **kwargs)
                succeeded = status.is_success(response.status_code)
                if not succeeded:
                    transaction.set_rollback(True)
                elif not keys.finish(
                    claim,
                    status=response.status_code,
                    body=response.data,
                    headers={h: str(response[h]) for h in KEPT_HEADERS if response.has_header(h)},
                    sealed=sealed,
                ):
                    raise IdempotencyKeyInUse()  # taken over: undo this work, keep theirs
        except BaseException:
            keys.release(claim)
            raise
        if not succeeded:
            keys.release(claim)
        return response

    return wrapper
