"""Secrets Seams reads back are unreadable in the database and survive key rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from common.encryption import (
    EncryptedTextField,
    SecretUnreadable,
    decrypt,
    encrypt,
    require,
    rotate,
)


def test_a_secret_round_trips_and_is_not_stored_in_plain(settings):
    settings.SEAMS_ENCRYPTION_KEYS = ""
    token = encrypt("xoxb-tracker-token")
    assert "xoxb" not in token
    assert decrypt(token) == "xoxb-tracker-token"


def test_rotation_keeps_old_secrets_readable_and_rewrites_them_with_the_new_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.SEAMS_ENCRYPTION_KEYS = old
    token = encrypt("s3cret")
    settings.SEAMS_ENCRYPTION_KEYS = f"{new},{old}"
    assert decrypt(token) == "s3cret"
    rotated = rotate(token)
    settings.SEAMS_ENCRYPTION_KEYS = new
    assert decrypt(rotated) == "s3cret"
    with pytest.raises(SecretUnreadable):
        decrypt(token)


def test_a_changed_secret_key_makes_derived_secrets_unreadable_not_wrong(settings):
    settings.SEAMS_ENCRYPTION_KEYS = ""
    settings.SECRET_KEY = "a" * 60
    token = encrypt("value")
    settings.SECRET_KEY = "b" * 60
    with pytest.raises(SecretUnreadable):
        decrypt(token)


def test_a_value_no_key_opens_loads_empty_and_is_written_back_unchanged(settings):
    settings.SEAMS_ENCRYPTION_KEYS = Fernet.generate_key().decode()
    field = EncryptedTextField()
    stored = field.get_prep_value("tracker-token")
    assert field.from_db_value(stored, None, None) == "tracker-token"
    settings.SEAMS_ENCRYPTION_KEYS = Fernet.generate_key().decode()  # the old key is gone
    loaded = field.from_db_value(stored, None, None)
    assert loaded == ""  # "is a secret set?" says no; the page listing the row still renders
    assert field.get_prep_value(loaded) == stored  # saving the row unchanged loses nothing
    with pytest.raises(SecretUnreadable):
        require(loaded)  # nothing signs or authenticates with it
    assert require("tracker-token") == "tracker-token"
