"""Hostile or malformed input answers 4xx with a message, never a server error.

Each case was a 500 (or an HTML answer from the API) before: deeply nested JSON, control
characters in URLs, numbers and dates past what the database stores, malformed cursors,
wrong JSON types on the writing endpoints, over-long tokens, unknown API paths with DEBUG on.
"""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from django.urls import reverse

from incidents.models import Comment

NESTED = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 40 + "1" + "}" * 40


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == status
    assert error["message"]
    return error


@pytest.fixture
def api_client(user) -> Client:
    """A raw Django client with a token: sends bodies exactly as given."""
    from incidents.models import ApiToken

    _, key = ApiToken.generate(name="hostile", user=user, scope="write")
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


@pytest.fixture
def incident(user, save_review):
    return save_review(by=user, title="Edge outage", summary="Edge nodes failed.")


# --- JSON bodies --------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("body", [NESTED, DEEP_OBJECT], ids=["recursion", "too-deep"])
@pytest.mark.parametrize("path", ["/api/v1/incidents/", "/api/v1/similar/"])
def test_deeply_nested_json_on_the_api_is_400(api_client, path, body):
    error = assert_error_shape(api_client.post(path, body, content_type="application/json"), 400)
    assert "nested too deeply" in error["message"]


@pytest.mark.parametrize("name", ["incidents:preview", "incidents:assist"])
def test_deeply_nested_json_on_the_writing_endpoints_is_400(logged_in, name):
    response = logged_in.post(reverse(name), NESTED, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"sections": ["summary", "text"]}, "`sections` must be an object"),
        ({"sections": "text"}, "`sections` must be an object"),
        ({"sections": {"summary": "x"}, "incident": "edge"}, "`incident` must be a whole"),
        ({"sections": {"summary": "x"}, "incident": 10**30}, "`incident` must be between"),
        ({"sections": {"summary": "bad\x00byte"}}, "control character"),
    ],
)
def test_assist_with_the_wrong_types_is_400(logged_in, body, words):
    response = logged_in.post(reverse("incidents:assist"), body, content_type="application/json")
    assert response.status_code == 400
    assert words in response.json()["error"]


# --- URLs: control characters, numbers, dates, cursors ------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/incidents/?q=edge%00outage",
        "/api/v1/incidents/?pattern=fast%00",
        "/api/v1/recurrences/?pattern=fast%00",
        "/api/v1/patterns/fast%00global/",
        "/api/v1/components/?q=%01",
    ],
)
def test_control_characters_in_api_urls_are_400(api_client, url):
    error = assert_error_shape(api_client.get(url), 400)
    assert "control character" in error["message"]


def test_control_characters_in_page_urls_are_a_plain_400(logged_in):
    response = logged_in.get("/?q=edge%00outage")
    assert response.status_code == 400
    assert b"control character" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"since": "9999-12-31T23:59:59-23:59"},
        {"until": "0001-01-01T00:00:00+05:00"},
        {"until": ""},
        {"since": "not a date"},
        {"page_size": "null"},
        {"page_size": "0"},
        {"page_size": "201"},
        {"page_size": "9" * 3000},
    ],
)
def test_out_of_range_list_parameters_are_400_naming_the_parameter(api_client, query):
    error = assert_error_shape(api_client.get("/api/v1/incidents/", query), 400)
    assert set(error["fields"]) == set(query)


@pytest.mark.parametrize("limit", ["null", "0", "51", "99999999999999999999999"])
def test_similar_limit_out_of_range_is_400(api_client, incident, limit):
    response = api_client.get(f"/api/v1/incidents/{incident.pk}/similar/", {"limit": limit})
    assert "limit" in assert_error_shape(response, 400)["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize("position", ["abc", "1e9", "9" * 30, "-"])
def test_a_cursor_with_a_bad_position_is_404(api_client, position):
    cursor = base64.b64encode(f"o=0&p={position}".encode()).decode()
    response = api_client.get("/api/v1/incidents/", {"cursor": cursor})
    assert "cursor" in assert_error_shape(response, 404)["message"].lower()


def test_a_huge_version_in_a_patch_is_400(api_client, incident):
    response = api_client.patch(
        f"/api/v1/incidents/{incident.pk}/",
        {"version": 10**20, "title": "Edge outage, again"},
        content_type="application/json",
    )
    assert "version" in assert_error_shape(response, 400)["fields"]
    incident.refresh_from_db()
    assert incident.title == "Edge outage"


@pytest.mark.parametrize("query", ["from=99999999999999999999", "to=1e5", "from=-"])
def test_a_diff_of_unreasonable_versions_is_400(logged_in, incident, query):
    response = logged_in.get(f"{reverse('incidents:diff', args=[incident.pk])}?{query}")
    assert response.status_code == 400
    assert b"Versions are numbers" in response.content


# --- tokens, unknown paths, DEBUG parity ---------------------------------------------------


@pytest.mark.django_db
def test_a_10_kb_token_is_401_in_the_error_shape():
    response = Client(HTTP_AUTHORIZATION="Token " + "a" * 10_000).get("/api/v1/incidents/")
    assert "at most" in assert_error_shape(response, 401)["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/api/v2/", "/api/"])
def test_unknown_api_paths_are_a_json_404_with_and_without_debug(api_client, settings, debug, path):
    settings.DEBUG = debug
    assert_error_shape(api_client.get(path), 404)


@pytest.mark.django_db
def test_a_server_error_under_debug_is_still_the_json_shape(api_client, settings, monkeypatch):
    """The development server (DEBUG on) answers a bug as production does, not with HTML."""
    from incidents.api import views

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.SimilarView, "post", broken)
    settings.DEBUG = True
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=api_client.defaults[
        "HTTP_AUTHORIZATION"
    ])  # fmt: skip
    response = client.post("/api/v1/similar/", {"text": "x"}, content_type="application/json")
    assert_error_shape(response, 500)


# --- web forms: refused input keeps the user's text ----------------------------------------


def test_a_comment_with_a_nul_byte_is_refused_and_its_text_kept(logged_in, incident):
    url = reverse("incidents:comment", args=[incident.pk])
    response = logged_in.post(url, {"body": "The rollback\x00 worked."}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "control character" in page
    assert "The rollback worked.</textarea>" in page
    assert not Comment.objects.filter(incident=incident).exists()
    # Sent again, it is saved, and the form is empty afterwards.
    response = logged_in.post(url, {"body": "The rollback worked."}, follow=True)
    assert Comment.objects.get(incident=incident).body == "The rollback worked."
    assert "The rollback worked.</textarea>" not in response.content.decode()


def test_a_suggestion_answer_naming_an_incident_by_text_is_400(logged_in, incident):
    response = logged_in.post(
        reverse("incidents:decide", args=[incident.pk]),
        {"decision": "rejected", "incident": "edge"},
    )
    assert response.status_code == 400
    assert "whole number" in response.json()["error"]
