"""NUL bytes on PostgreSQL, which refuses them in any query or text column: each answers
400 with a message (and a refused comment keeps its text), never a 500."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from incidents.models import ApiToken, Comment
from tests.factories import UserFactory, review

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def api(user) -> Client:
    _, key = ApiToken.generate(name="nul", user=user, scope="write")
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def test_runs_on_postgresql():
    assert connection.vendor == "postgresql"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/incidents/?q=edge%00outage",
        "/api/v1/incidents/?pattern=fast-global%00",
        "/api/v1/incidents/?component=edge%00",
        "/api/v1/patterns/fast-global-propagation%00/",
        "/api/v1/recurrences/?pattern=%00",
        "/api/v1/components/?q=%00",
    ],
)
def test_nul_in_api_urls_is_400(api, url):
    response = api.get(url)
    assert response.status_code == 400
    assert "control character" in response.json()["error"]["message"]


def test_nul_in_the_similar_question_is_400(api):
    response = api.post(
        "/api/v1/similar/", {"text": "edge\x00outage"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "text" in response.json()["error"]["fields"]


def test_nul_in_suggestion_fields_is_400(client, user):
    incident = review(by=user, title="Edge outage", summary="Edge nodes failed.")
    client.force_login(user)
    response = client.post(
        reverse("incidents:assist"),
        {"sections": {"summary": "edge\x00outage"}},
        content_type="application/json",
    )
    assert response.status_code == 400
    response = client.post(
        reverse("incidents:decide", args=[incident.pk]),
        {"decision": "rejected", "pattern": "fast-global-propagation\x00"},
    )
    assert response.status_code == 400


def test_a_web_comment_with_nul_keeps_its_text(client, user):
    incident = review(by=user, title="Edge outage", summary="Edge nodes failed.")
    client.force_login(user)
    response = client.post(
        reverse("incidents:comment", args=[incident.pk]),
        {"body": "Rollback\x00 took four minutes."},
        follow=True,
    )
    assert response.status_code == 200
    assert "Rollback took four minutes.</textarea>" in response.content.decode()
    assert not Comment.objects.filter(incident=incident).exists()
