"""Login throttling: wrong passwords lock the account and the address, with a clear message.

The counts live in the database (django-axes), so the lockout holds in every web process
and with Redis down.
"""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from .factories import UserFactory

PASSWORD = "a long and correct password"
LIMIT = 5


@pytest.fixture(autouse=True)
def throttled(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


@pytest.fixture
def alice(db):
    user = UserFactory(username="alice")
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(client, username, password, address="192.0.2.10", path="/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_wrong_passwords_lock_the_account_even_for_the_right_password(client, alice):
    for attempt in range(LIMIT - 1):
        response = log_in(client, "alice", f"wrong-{attempt}")
        assert response.status_code == 200  # the ordinary "wrong password" page until the limit
    assert log_in(client, "alice", "wrong-again").status_code == 429  # the one that locks
    response = log_in(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert not signed_in(client)
    text = response.content.decode()
    assert "Logging in is locked for now" in text
    assert "even with the right password" in text
    assert "Try again in 15 minutes" in text
    # The form is still there, so the person knows where they are.
    assert 'name="username"' in text


def test_the_account_lock_holds_from_another_address(client, alice):
    for attempt in range(LIMIT):
        log_in(client, "alice", f"wrong-{attempt}", address=f"198.51.100.{attempt}")
    assert log_in(client, "alice", PASSWORD, address="203.0.113.99").status_code == 429
    assert not signed_in(client)


def test_one_address_trying_many_accounts_is_locked_out(client, alice):
    for attempt in range(LIMIT):
        log_in(client, f"someone-{attempt}", "guess", address="192.0.2.66")
    response = log_in(client, "alice", PASSWORD, address="192.0.2.66")
    assert response.status_code == 429
    assert not signed_in(client)
    # Alice from her own address is not locked out by someone else's guessing.
    assert log_in(client, "alice", PASSWORD, address="192.0.2.10").status_code == 302
    assert signed_in(client)


def test_after_the_cool_off_the_right_password_works_again(client, alice):
    for attempt in range(LIMIT):
        log_in(client, "alice", f"wrong-{attempt}")
    assert log_in(client, "alice", PASSWORD).status_code == 429
    # Fifteen minutes and a second pass (the failures are dated in the database).
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    response = log_in(client, "alice", PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)


def test_a_successful_login_clears_the_count(client, alice):
    for attempt in range(LIMIT - 1):
        log_in(client, "alice", f"wrong-{attempt}")
    assert log_in(client, "alice", PASSWORD).status_code == 302
    client.logout()
    for attempt in range(LIMIT - 1):
        log_in(client, "alice", f"wrong-again-{attempt}")
    assert log_in(client, "alice", PASSWORD).status_code == 302


def test_the_admin_login_is_throttled_with_the_same_message(client, alice):
    alice.is_staff = True
    alice.save()
    for attempt in range(LIMIT):
        log_in(client, "alice", f"wrong-{attempt}", path="/admin/login/")
    response = log_in(client, "alice", PASSWORD, path="/admin/login/")
    assert response.status_code == 429
    assert "Logging in is locked for now" in response.content.decode()
    assert not signed_in(client)
