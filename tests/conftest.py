"""Shared fixtures. The shipped catalogue is in every test database: `migrate` adds it, and
pytest-django's flush between transactional tests re-adds it through post_migrate."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from incidents.models import ApiToken

from .factories import UserFactory


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def logged_in(client, user):
    """A browser session of an ordinary user."""
    client.force_login(user)
    return client


def token_client(user, scope: str) -> APIClient:
    _, key = ApiToken.generate(name=f"test-{scope}", user=user, scope=scope)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


@pytest.fixture
def read_api(user):
    return token_client(user, "read")


@pytest.fixture
def write_api(user):
    return token_client(user, "write")


@pytest.fixture
def save_review(db, django_capture_on_commit_callbacks):
    """Save a review through the service and run its after-commit jobs, as a request would."""
    from .factories import review

    def _save(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return review(**kwargs)

    return _save
