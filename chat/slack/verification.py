"""Checking that a request comes from Slack, per Slack's "verifying requests" spec: the
signature `v0=HMAC-SHA256(signing secret, "v0:{timestamp}:{raw body}")` in
`X-Slack-Signature`, a timestamp within five minutes, and no request accepted twice."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from slack_sdk.signature import SignatureVerifier

# Slack's window: a request signed further from now than this is refused as stale.
WINDOW_SECONDS = 5 * 60


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused, and with which HTTP status."""

    status: int
    code: str
    message: str


NOT_CONFIGURED = Refusal(
    503,
    "not_configured",
    "Slack is not configured on this Seams: set SLACK_SIGNING_SECRET (see the docs).",
)


def refusal(request: HttpRequest, *, now: float | None = None) -> Refusal | None:
    """None when the request is signed by Slack, fresh and new; else why not.

    A seen signature is remembered in the cache (Redis in production, shared by every web
    process) for longer than the window, so a captured request replayed within the window
    is refused. Should the cache be unreachable, the signature and the window still hold:
    replays are then not detected rather than every request refused."""
    secret = settings.SLACK_SIGNING_SECRET
    if not secret:
        return NOT_CONFIGURED
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not timestamp or not signature:
        return Refusal(
            401,
            "not_signed",
            "Missing X-Slack-Signature or X-Slack-Request-Timestamp: Slack signs requests.",
        )
    try:
        signed_at = int(timestamp)
    except ValueError:
        return Refusal(401, "not_signed", "X-Slack-Request-Timestamp is not a Unix time.")
    now = time.time() if now is None else now
    if abs(now - signed_at) > WINDOW_SECONDS:
        return Refusal(
            401,
            "stale",
            "The request's timestamp is more than five minutes away: refused as stale.",
        )
    try:
        expected = SignatureVerifier(secret).generate_signature(
            timestamp=timestamp, body=request.body
        )
    except UnicodeDecodeError:
        expected = None
    # generate_signature gives "v0=<hex>"; compared in constant time.
    if expected is None or not _same(expected, signature):
        return Refusal(
            401, "bad_signature", "The signature does not match: check SLACK_SIGNING_SECRET."
        )
    seen = f"chat:slack:seen:{hashlib.sha256(signature.encode()).hexdigest()}"
    if cache.add(seen, 1, timeout=2 * WINDOW_SECONDS + 60) is False:
        return Refusal(403, "replayed", "This request was already received: a replay is refused.")
    return None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
