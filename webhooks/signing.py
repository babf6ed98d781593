"""Signing webhook bodies, and checking a signature as a receiver does.

The `Seams-Signature` header is `t=<unix seconds>,v1=<hex HMAC-SHA256>`; the HMAC is taken
with the endpoint's secret over `"<t>.<raw body>"`. The timestamp is inside the signed text,
so a captured request cannot be replayed later than the receiver's tolerance window.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "Seams-Signature"
EVENT_HEADER = "Seams-Event"
DELIVERY_HEADER = "Seams-Delivery"
USER_AGENT = "Seams-Webhooks/1"
# What a receiver should accept between its clock and the signed timestamp (docs say so).
TOLERANCE_SECONDS = 300


class InvalidSignature(ValueError):
    """The signature header is missing, malformed, stale or does not match the body."""


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes, URL-safe, with a prefix that says what it is."""
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The value of the `Seams-Signature` header for `body`, signed now (or at `timestamp`)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(secret, t, body)}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a `Seams-Signature` header as a receiver should; return its timestamp, or raise
    InvalidSignature. Any of several `v1=` values may match (there is one today)."""
    parts: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as error:
        raise InvalidSignature("no timestamp in the signature header") from error
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature("the signature's timestamp is outside the tolerance window")
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, given) for given in parts.get("v1", [])):
        raise InvalidSignature("the signature does not match the body")
    return timestamp
