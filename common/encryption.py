"""Secrets Seams must read back (tracker tokens, webhook signing secrets), stored encrypted.

A token Seams sends to a tracker, or a secret it signs webhooks with, cannot be hashed like a
password: Seams needs the plain value again. So it is encrypted with Fernet (AES-128-CBC and
HMAC-SHA256, from the `cryptography` package) before it reaches the database, and a database
dump or backup alone does not give the secret away.

Keys: `SEAMS_ENCRYPTION_KEYS` is a comma-separated list of Fernet keys; the first encrypts and
all of them decrypt, so a key is rotated by putting a new one first and re-saving (see
`rotate`). Without it, one key is derived from `SECRET_KEY` (HKDF), which keeps the embedded
mode working with no setup — but then changing `SECRET_KEY` makes stored secrets unreadable.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

__all__ = [
    "EncryptedTextField",
    "SecretUnreadable",
    "UnreadableSecret",
    "decrypt",
    "encrypt",
    "require",
    "rotate",
]


class SecretUnreadable(Exception):
    """A stored secret no configured key can decrypt (the key it was written with is gone)."""


class UnreadableSecret(str):
    """What an `EncryptedTextField` holds when no configured key opens the stored value.

    It is the empty string, so "is a secret set?" checks say no and a page listing the row
    still renders; it keeps the stored token, so saving the row unchanged writes the same
    bytes back (restoring the old key later brings the secret back). Code that signs or
    authenticates with the value calls `require`, which refuses it.
    """

    token: str

    def __new__(cls, token: str) -> UnreadableSecret:
        value = super().__new__(cls, "")
        value.token = token
        return value


def require(value: str) -> str:
    """The secret, or `SecretUnreadable` when it could not be decrypted (or is not set)."""
    if isinstance(value, UnreadableSecret):
        raise SecretUnreadable("no configured encryption key can read this secret")
    if not value:
        raise SecretUnreadable("no secret is set")
    return value


def _derived_key(secret_key: str) -> bytes:
    """A Fernet key derived from SECRET_KEY, distinct from every other use of it."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"seams.encryption.v1")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def _fernet() -> MultiFernet:
    """The configured keys, first one encrypting; read each call so tests can override them."""
    configured = getattr(settings, "SEAMS_ENCRYPTION_KEYS", "") or ""
    if isinstance(configured, str):
        configured = [key.strip() for key in configured.split(",") if key.strip()]
    keys = list(configured) or [_derived_key(settings.SECRET_KEY)]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "SEAMS_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64 bytes); make one "
            "with python3 -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from error


def encrypt(plain: str) -> str:
    """The encrypted token of `plain`, as text safe to store."""
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """The plain text of a stored token; `SecretUnreadable` when no key opens it."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable("no configured encryption key can read this secret") from error


def rotate(token: str) -> str:
    """The same secret re-encrypted with the first (newest) key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable("no configured encryption key can read this secret") from error


class EncryptedTextField(models.TextField):
    """A text field whose value is encrypted in the database and plain in Python.

    Not searchable or filterable by value (each encryption is different), which is the point.
    An empty string is stored as it is, so "no secret set" stays visible to queries. A value
    no configured key can open loads as an `UnreadableSecret` rather than raising, so one lost
    key does not turn every page that lists the row into a server error.
    """

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        try:
            return decrypt(value)
        except SecretUnreadable:
            return UnreadableSecret(value)

    def get_prep_value(self, value):
        if isinstance(value, UnreadableSecret):
            return value.token
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
