"""`Idempotency-Key` on every API POST: a bot's retry gets the first answer, not a duplicate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from idempotency import keys
from idempotency.models import IdempotencyKey
from idempotency.tasks import forget_expired_keys
from incidents.models import Incident
from reports.models import Report

from .conftest import token_client
from .test_api import assert_error

pytestmark = pytest.mark.django_db

DRAFT = {"title": "Checkout errors after config push", "severity": "sev2"}


def _create(api, body=DRAFT, key="retry-me"):
    return api.post("/api/v1/incidents/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retried_create_gets_the_first_answer_and_makes_no_second_review(write_api):
    first = _create(write_api)
    again = _create(write_api)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["ETag"] == first["ETag"]
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Incident.objects.filter(title=DRAFT["title"]).count() == 1


def test_without_a_key_every_post_is_its_own(write_api):
    write_api.post("/api/v1/incidents/", DRAFT, format="json")
    write_api.post("/api/v1/incidents/", DRAFT, format="json")
    assert Incident.objects.filter(title=DRAFT["title"]).count() == 2


def test_the_same_key_with_another_body_is_refused_and_stores_nothing(write_api):
    _create(write_api)
    response = _create(write_api, {"title": "Something else"})
    error = assert_error(response, 422, "idempotency_key_reused")
    assert "different request" in error["message"]
    assert not Incident.objects.filter(title="Something else").exists()


def test_the_same_key_on_another_endpoint_is_refused(write_api):
    incident = _create(write_api).json()
    response = write_api.post(
        f"/api/v1/incidents/{incident['id']}/action-items/",
        {"action_items": [{"title": "Canary it."}]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="retry-me",
    )
    assert_error(response, 422, "idempotency_key_reused")
    assert Incident.objects.get(pk=incident["id"]).action_items.count() == 0


def test_keys_belong_to_their_token(write_api, user):
    other = token_client(user, "write")
    assert _create(write_api).status_code == 201
    assert _create(other).status_code == 201
    assert Incident.objects.filter(title=DRAFT["title"]).count() == 2


def test_a_refused_request_releases_its_key_for_the_corrected_retry(write_api):
    bad = _create(write_api, {"title": ""})
    assert_error(bad, 400, "invalid")
    good = _create(write_api)
    assert good.status_code == 201
    assert "Idempotent-Replayed" not in good


def test_while_the_first_request_runs_a_retry_is_told_so(write_api, user):
    token = user.api_tokens.get()
    keys.begin(
        owner=f"token:{token.pk}", key="retry-me", method="POST", path="/api/v1/incidents/",
        body=b'{"title":"Checkout errors after config push","severity":"sev2"}',
    )  # fmt: skip
    response = _create(write_api)
    error = assert_error(response, 409, "idempotency_key_in_use")
    assert "in progress" in error["message"]
    assert not Incident.objects.exists()


def test_a_claim_abandoned_by_a_dead_request_is_taken_over(write_api, user):
    token = user.api_tokens.get()
    body = b'{"title":"Checkout errors after config push","severity":"sev2"}'
    keys.begin(
        owner=f"token:{token.pk}", key="retry-me", method="POST", path="/api/v1/incidents/",
        body=body,
    )  # fmt: skip
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    response = write_api.post(
        "/api/v1/incidents/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="retry-me"
    )
    assert response.status_code == 201
    assert Incident.objects.count() == 1


def test_a_key_is_forgotten_after_a_day(write_api):
    _create(write_api)
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = _create(write_api)
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert Incident.objects.filter(title=DRAFT["title"]).count() == 2


def test_the_periodic_cleanup_deletes_only_expired_keys(write_api):
    _create(write_api, key="old")
    _create(write_api, key="new")
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    assert forget_expired_keys() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "naïve", "tab\there"])
def test_an_unusable_key_is_400(write_api, key):
    response = write_api.post("/api/v1/incidents/", DRAFT, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert_error(response, 400, "invalid_idempotency_key")
    assert not Incident.objects.exists()


def test_appends_are_idempotent(write_api):
    incident = write_api.post("/api/v1/incidents/", DRAFT, format="json").json()
    base = f"/api/v1/incidents/{incident['id']}/"
    event = {"events": [{"occurred_at": "2026-11-24T09:14:00Z", "text": "Alert."}]}
    item = {"action_items": [{"title": "Canary it."}]}
    for _ in range(2):
        t = write_api.post(f"{base}timeline/", event, format="json", HTTP_IDEMPOTENCY_KEY="t1")
        a = write_api.post(f"{base}action-items/", item, format="json", HTTP_IDEMPOTENCY_KEY="a1")
        assert (t.status_code, a.status_code) == (201, 201)
    stored = Incident.objects.get(pk=incident["id"])
    assert stored.timeline.count() == 1
    assert stored.action_items.count() == 1
    assert stored.version == incident["version"] + 2


def test_a_stale_if_match_on_an_append_releases_the_key(write_api):
    incident = write_api.post("/api/v1/incidents/", DRAFT, format="json")
    etag, url = incident["ETag"], incident["Location"]
    write_api.patch(url, {"summary": "Changed."}, format="json")
    event = {"events": [{"occurred_at": "2026-11-24T09:14:00Z", "text": "Alert."}]}
    stale = write_api.post(
        f"{url}timeline/", event, format="json", HTTP_IF_MATCH=etag, HTTP_IDEMPOTENCY_KEY="t1"
    )
    assert_error(stale, 412, "precondition_failed")
    fresh = write_api.post(f"{url}timeline/", event, format="json", HTTP_IDEMPOTENCY_KEY="t1")
    assert fresh.status_code == 201


def test_a_retried_report_request_starts_one_job(write_api):
    body = {"since": "2025-01-01T00:00:00Z", "until": "2025-07-01T00:00:00Z"}
    first = write_api.post("/api/v1/reports/", body, format="json", HTTP_IDEMPOTENCY_KEY="q3")
    again = write_api.post("/api/v1/reports/", body, format="json", HTTP_IDEMPOTENCY_KEY="q3")
    assert first.status_code == again.status_code == 202
    assert again["Location"] == first["Location"]
    assert Report.objects.count() == 1


def test_similar_accepts_a_key_too(read_api):
    body = {"text": "config pushed everywhere at once", "limit": 3}
    first = read_api.post("/api/v1/similar/", body, format="json", HTTP_IDEMPOTENCY_KEY="s1")
    again = read_api.post("/api/v1/similar/", body, format="json", HTTP_IDEMPOTENCY_KEY="s1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()


def test_every_post_in_the_schema_documents_the_header(read_api):
    schema = read_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    posts = [(path, ops["post"]) for path, ops in schema["paths"].items() if "post" in ops]
    assert len(posts) >= 5
    for path, operation in posts:
        names = [(p["in"], p["name"]) for p in operation.get("parameters", [])]
        assert ("header", "Idempotency-Key") in names, path
        assert {"409", "422"} <= set(operation["responses"]), path
