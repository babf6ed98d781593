"""Concurrent API writes on PostgreSQL: nothing is lost, nothing is written twice.

Every test fires real parallel requests: each thread is its own client with its own database
connection, and a barrier releases them together so their transactions really overlap.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from incidents.models import ApiToken, Incident
from reports.models import Report

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def api_key(django_user_model) -> str:
    user = django_user_model.objects.create(username="incident-bot", is_superuser=True)
    _, key = ApiToken.generate(name="bot", user=user, scope="write")
    return key


def _client(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def in_parallel(key: str, requests: list[Callable[[APIClient], Any]]) -> list[Any]:
    """Run each request in its own thread (own client, own connection), all at once."""
    barrier = threading.Barrier(len(requests))
    answers: list[Any] = [None] * len(requests)

    def run(index: int) -> None:
        api = _client(key)
        try:
            barrier.wait(timeout=30)
            answers[index] = requests[index](api)
        except Exception as exc:  # reported by the assertion below, with the request's index
            answers[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    failures = [a for a in answers if isinstance(a, Exception)]
    assert not failures, failures
    return answers


@pytest.fixture
def draft(api_key) -> dict:
    response = _client(api_key).post(
        "/api/v1/incidents/",
        {"title": "Config push pinned CPU", "summary": "First words.", "impact": "Some."},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_twenty_parallel_timeline_appends_are_all_stored(api_key, draft):
    url = f"/api/v1/incidents/{draft['id']}/timeline/"

    def append(n: int):
        event = {"occurred_at": f"2026-01-01T10:{n:02d}:00Z", "text": f"event {n}"}
        return lambda api: api.post(url, {"events": [event]}, format="json").status_code

    codes = in_parallel(api_key, [append(n) for n in range(20)])

    assert codes == [201] * 20
    stored = _client(api_key).get(f"/api/v1/incidents/{draft['id']}/").json()["timeline"]
    assert sorted(e["text"] for e in stored) == sorted(f"event {n}" for n in range(20))


def test_twenty_parallel_action_items_are_all_stored(api_key, draft):
    url = f"/api/v1/incidents/{draft['id']}/action-items/"

    def add(n: int):
        item = {"title": f"item {n}"}
        return lambda api: api.post(url, {"action_items": [item]}, format="json").status_code

    codes = in_parallel(api_key, [add(n) for n in range(20)])

    assert codes == [201] * 20
    stored = _client(api_key).get(f"/api/v1/incidents/{draft['id']}/").json()["action_items"]
    assert sorted(a["title"] for a in stored) == sorted(f"item {n}" for n in range(20))


def test_patches_with_the_same_if_match_let_exactly_one_through(api_key, draft):
    url = f"/api/v1/incidents/{draft['id']}/"
    etag = _client(api_key).get(url)["ETag"]

    def patch(n: int):
        return lambda api: api.patch(
            url, {"summary": f"Summary {n}"}, format="json", HTTP_IF_MATCH=etag
        )

    answers = in_parallel(api_key, [patch(n) for n in range(8)])

    assert Counter(a.status_code for a in answers) == {200: 1, 412: 7}
    winner = next(a for a in answers if a.status_code == 200).json()["summary"]
    stored = Incident.objects.get(pk=draft["id"])
    assert stored.summary == winner
    assert stored.version == draft["version"] + 1


def test_patches_with_the_same_version_let_exactly_one_through(api_key, draft):
    url = f"/api/v1/incidents/{draft['id']}/"

    def patch(n: int):
        body = {"summary": f"Summary {n}", "version": draft["version"]}
        return lambda api: api.patch(url, body, format="json")

    answers = in_parallel(api_key, [patch(n) for n in range(8)])

    assert Counter(a.status_code for a in answers) == {200: 1, 409: 7}
    assert Incident.objects.get(pk=draft["id"]).version == draft["version"] + 1


def test_parallel_patches_of_different_fields_keep_every_change(api_key, draft):
    url = f"/api/v1/incidents/{draft['id']}/"
    changes = {
        "title": "New title",
        "summary": "New summary.",
        "impact": "New impact.",
        "narrative": "New narrative.",
        "went_well": "Rollback was quick.",
        "where_lucky": "It was a quiet hour.",
        "users_affected": "All of them.",
        "severity": "sev1",
    }

    def patch(field: str, value: str):
        return lambda api: api.patch(url, {field: value}, format="json").status_code

    codes = in_parallel(api_key, [patch(f, v) for f, v in changes.items()])

    assert codes == [200] * len(changes)
    stored = _client(api_key).get(url).json()
    assert {field: stored[field] for field in changes} == changes
    assert stored["version"] == draft["version"] + len(changes)


def test_parallel_patches_and_appends_keep_both(api_key, draft):
    """A PATCH of the components and an append of events at once: neither undoes the other."""
    base = f"/api/v1/incidents/{draft['id']}/"

    def requests(n: int):
        if n % 2:
            event = {"occurred_at": f"2026-01-01T11:{n:02d}:00Z", "text": f"event {n}"}
            return lambda api: api.post(f"{base}timeline/", {"events": [event]}, format="json")
        return lambda api: api.patch(base, {"components": [f"Component {n}"]}, format="json")

    answers = in_parallel(api_key, [requests(n) for n in range(10)])

    assert all(a.status_code in (200, 201) for a in answers), [a.content for a in answers]
    stored = _client(api_key).get(base).json()
    assert sorted(e["text"] for e in stored["timeline"]) == [f"event {n}" for n in (1, 3, 5, 7, 9)]


def test_parallel_creates_with_one_idempotency_key_make_one_review(api_key):
    body = {"title": "Checkout errors after config push", "severity": "sev2"}

    def create(api):
        return api.post("/api/v1/incidents/", body, format="json", HTTP_IDEMPOTENCY_KEY="page-4711")

    answers = in_parallel(api_key, [create] * 10)

    assert Incident.objects.filter(title=body["title"]).count() == 1
    created = [a for a in answers if a.status_code == 201]
    # The others either waited for the first and got its answer, or were told it was running.
    assert {a.status_code for a in answers} <= {201, 409}
    assert created, [a.content for a in answers]
    assert {a.json()["id"] for a in created} == {Incident.objects.get(title=body["title"]).pk}
    in_progress = [a for a in answers if a.status_code == 409]
    assert all(a.json()["error"]["code"] == "idempotency_key_in_use" for a in in_progress)


def test_parallel_appends_with_one_idempotency_key_append_once(api_key, draft):
    url = f"/api/v1/incidents/{draft['id']}/timeline/"
    event = {"occurred_at": "2026-01-01T10:00:00Z", "text": "Error rate alert."}

    def append(api):
        return api.post(url, {"events": [event]}, format="json", HTTP_IDEMPOTENCY_KEY="alert-1")

    in_parallel(api_key, [append] * 10)

    stored = _client(api_key).get(f"/api/v1/incidents/{draft['id']}/").json()["timeline"]
    assert [e["text"] for e in stored] == ["Error rate alert."]


def test_parallel_report_requests_with_one_idempotency_key_start_one_job(api_key):
    body = {"since": "2025-01-01T00:00:00Z", "until": "2025-07-01T00:00:00Z"}

    def ask(api):
        return api.post("/api/v1/reports/", body, format="json", HTTP_IDEMPOTENCY_KEY="q3-report")

    answers = in_parallel(api_key, [ask] * 10)

    assert Report.objects.count() == 1
    assert {a.status_code for a in answers} <= {202, 409}
