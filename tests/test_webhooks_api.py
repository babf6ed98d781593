"""The webhooks API (/api/v1/webhooks/) for admin tokens, and the events in the schema."""

from __future__ import annotations

import pytest
import yaml
from cryptography.fernet import Fernet

from idempotency.models import IdempotencyKey
from webhooks.delivery import deliver
from webhooks.events import emit
from webhooks.models import Delivery, Endpoint

from .conftest import token_client
from .factories import GroupFactory, UserFactory
from .webhooks_helpers import admin, documented_signature, endpoint, receiver

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/v1/webhooks/endpoints/"
DELIVERIES = "/api/v1/webhooks/deliveries/"


@pytest.fixture
def boss():
    return admin("boss")


@pytest.fixture
def api(boss):
    return token_client(boss, "write")


def test_an_admin_creates_an_endpoint_and_gets_its_secret_once(api):
    answer = api.post(
        ENDPOINTS,
        {"url": "https://hooks.example.com/seams", "events": ["review.published"]},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["secret"].startswith("whsec_")
    assert Endpoint.objects.get().secret == body["secret"]
    again = api.get(f"{ENDPOINTS}{body['id']}/").json()
    assert "secret" not in again
    assert again["events"] == ["review.published"]
    rotated = api.post(f"{ENDPOINTS}{body['id']}/rotate-secret/").json()["secret"]
    assert rotated != body["secret"]
    assert Endpoint.objects.get().secret == rotated


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://x.example.com/", "events": ["review.published"]}, "url"),
        ({"url": "https://x.example.com/", "events": []}, "events"),
        ({"url": "https://x.example.com/", "events": ["review.deleted"]}, "events"),
        ({"url": "https://x.example.com/", "events": ["ping"]}, "events"),
        ({"url": "https://x.example.com/", "events": ["review.published"], "x": 1}, "x"),
        ({"url": "https://x.example.com/", "events": ["review.published"], "scope": ["nope"]},
         "scope"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field(api, body, field):
    answer = api.post(ENDPOINTS, body, format="json")
    assert answer.status_code == 400, answer.content
    assert any(name.startswith(field) for name in answer.json()["error"]["fields"])
    assert not Endpoint.objects.exists()


def test_a_team_the_admin_is_not_in_cannot_be_put_in_the_scope(api, boss):
    GroupFactory(name="security")
    boss.groups.add(GroupFactory(name="payments"))
    answer = api.post(
        ENDPOINTS,
        {"url": "https://x.example.com/", "events": ["review.published"], "scope": ["security"]},
        format="json",
    )
    assert answer.status_code == 400
    assert "teams you belong to" in str(answer.json()["error"]["fields"])
    ok = api.post(
        ENDPOINTS,
        {"url": "https://x.example.com/", "events": ["review.published"], "scope": ["payments"]},
        format="json",
    )
    assert ok.status_code == 201
    assert ok.json()["scope"] == ["payments"]


def test_only_admin_tokens_may_use_it_and_changes_need_write_scope(boss):
    reader = token_client(UserFactory(username="reader", role="reader"), "write")
    assert reader.get(ENDPOINTS).status_code == 403
    assert reader.get(DELIVERIES).status_code == 403
    read_only = token_client(boss, "read")
    assert read_only.get(ENDPOINTS).status_code == 200
    answer = read_only.post(
        ENDPOINTS, {"url": "https://x.example.com/", "events": ["review.published"]}, format="json"
    )
    assert answer.status_code == 403
    from rest_framework.test import APIClient

    assert APIClient().get(ENDPOINTS).status_code == 401


def test_update_switch_on_and_delete(api, httpserver, django_capture_on_commit_callbacks):
    hook, url = receiver(httpserver, 200)
    target, _ = endpoint(url)
    emit(event_type="review.published", key="k", data={"review": {"title": "T"}})
    off = api.patch(f"{ENDPOINTS}{target.pk}/", {"is_active": False}, format="json")
    assert off.status_code == 200
    assert off.json()["is_active"] is False
    with django_capture_on_commit_callbacks(execute=True):
        on = api.patch(f"{ENDPOINTS}{target.pk}/", {"is_active": True}, format="json")
    assert on.json()["is_active"] is True
    assert len(hook.received) == 1
    changed = api.put(
        f"{ENDPOINTS}{target.pk}/",
        {"url": url, "description": "Renamed", "events": ["action_item.overdue"]},
        format="json",
    )
    assert changed.status_code == 200
    assert changed.json()["description"] == "Renamed"
    assert api.delete(f"{ENDPOINTS}{target.pk}/").status_code == 204
    assert not Endpoint.objects.exists()
    assert api.get(f"{ENDPOINTS}{target.pk}/").status_code == 404
    assert api.get(f"{ENDPOINTS}99999999999999999999/").status_code == 404


def test_deliveries_with_attempts_redeliver_and_ping(
    api, httpserver, django_capture_on_commit_callbacks
):
    hook, url = receiver(httpserver, 500, 200)
    target, _ = endpoint(url)
    event = emit(event_type="review.published", key="k", data={"review": {"title": "T"}})
    first = Delivery.objects.get()
    deliver(first.pk)
    rows = api.get(f"{DELIVERIES}?endpoint={target.pk}").json()["results"]
    (row,) = rows
    assert row["event_id"] == str(event.id)
    assert row["state"] == "pending"
    (attempt,) = row["attempt_log"]
    assert attempt["status_code"] == 500
    assert attempt["next_delay"] is not None
    assert row["payload"]["data"]["review"]["title"] == "T"

    with django_capture_on_commit_callbacks(execute=True):
        again = api.post(f"{DELIVERIES}{first.pk}/redeliver/")
    assert again.status_code == 202
    assert again.json()["event_id"] == str(event.id)
    assert again.json()["delivery_id"] != row["delivery_id"]
    assert [e["id"] for e in hook.events()] == [str(event.id)] * 2

    with django_capture_on_commit_callbacks(execute=True):
        ping = api.post(f"{ENDPOINTS}{target.pk}/ping/")
    assert ping.status_code == 202
    assert ping.json()["event_type"] == "ping"
    assert hook.events()[-1]["type"] == "ping"
    assert api.get(f"{DELIVERIES}?endpoint=abc").status_code == 400
    assert api.post(f"{DELIVERIES}999/redeliver/").status_code == 404


def test_a_restricted_payload_is_hidden_from_an_admin_outside_its_group(api, boss):
    security = GroupFactory(name="security")
    endpoint("https://hooks.example.com/", scope=[security])
    emit(
        event_type="review.published",
        key="k",
        data={"review": {"title": "Leaked signing key"}},
        restricted_to=security.pk,
    )
    answer = api.get(DELIVERIES)
    assert b"Leaked signing key" not in answer.content
    (row,) = answer.json()["results"]
    assert row["payload"] is None
    assert row["about"] == "A restricted review"
    boss.groups.add(security)
    assert b"Leaked signing key" in api.get(DELIVERIES).content


def test_lists_cost_a_fixed_number_of_queries(api, django_assert_max_num_queries):
    for n in range(5):
        _target, _ = endpoint(f"https://hooks.example.com/{n}", scope=[GroupFactory()])
    for n in range(20):
        emit(event_type="review.published", key=f"k{n}", data={"review": {"title": f"T{n}"}})
    # Token (1), user's permissions (up to 2), count, page, scopes.
    with django_assert_max_num_queries(8):
        assert len(api.get(ENDPOINTS).json()["results"]) == 5
    # Token, permissions, the user's groups, count, page with events, attempts.
    with django_assert_max_num_queries(9):
        assert len(api.get(DELIVERIES).json()["results"]) == 50


def test_the_schema_documents_every_event_and_the_endpoints(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    assert "webhooks" not in schema  # a 3.1 key: in the 3.0 schema it is an extension
    assert set(schema["x-webhooks"]) == {
        "review.published", "review.requested", "structure.recurred",
        "structure.recurred_despite_remediation", "structure.recognised", "action_item.overdue",
        "ping",
    }  # fmt: skip
    published = schema["x-webhooks"]["review.published"]["post"]
    assert "Seams-Signature" in published["description"]
    ref = published["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/ReviewPublishedEvent")
    assert "/api/v1/webhooks/endpoints/" in schema["paths"]
    assert "/api/v1/webhooks/deliveries/{id}/redeliver/" in schema["paths"]


def test_is_active_takes_only_true_or_false(api):
    target, _ = endpoint("https://hooks.example.com/")
    answer = api.patch(f"{ENDPOINTS}{target.pk}/", {"is_active": 0}, format="json")
    assert answer.status_code == 400
    assert "is_active" in answer.json()["error"]["fields"]
    target.refresh_from_db()
    assert target.is_active


def test_an_endpoint_id_no_endpoint_can_have_lists_nothing(api):
    endpoint("https://hooks.example.com/")
    emit(event_type="review.published", key="k", data={"review": {"title": "T"}})
    assert api.get(f"{DELIVERIES}?endpoint=-241").json()["results"] == []
    assert api.get(f"{DELIVERIES}?endpoint={10**30}").json()["results"] == []


def test_a_retried_ping_with_the_same_key_pings_once(
    api, httpserver, django_capture_on_commit_callbacks
):
    hook, url = receiver(httpserver, 200)
    target, _ = endpoint(url)
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(f"{ENDPOINTS}{target.pk}/ping/", HTTP_IDEMPOTENCY_KEY="ping-1")
        again = api.post(f"{ENDPOINTS}{target.pk}/ping/", HTTP_IDEMPOTENCY_KEY="ping-1")
    assert first.json()["delivery_id"] == again.json()["delivery_id"]
    assert again["Idempotent-Replayed"] == "true"
    assert len(hook.received) == 1
    bad = api.post(f"{ENDPOINTS}{target.pk}/rotate-secret/", HTTP_IDEMPOTENCY_KEY=" x\u00e9")
    assert bad.status_code == 400


def test_a_retried_create_makes_one_endpoint_and_gets_the_same_secret_again(api):
    body = {"url": "https://hooks.example.com/seams", "events": ["review.published"]}
    first = api.post(ENDPOINTS, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    again = api.post(ENDPOINTS, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    assert first.status_code == again.status_code == 201, again.content
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Endpoint.objects.count() == 1
    assert Endpoint.objects.get().secret == first.json()["secret"]
    # The kept answer is no plain copy of the secret.
    kept = IdempotencyKey.objects.get(key="create-1")
    assert kept.sealed
    assert first.json()["secret"] not in kept.response_body
    other = api.post(
        ENDPOINTS,
        {**body, "url": "https://hooks.example.com/other"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="create-1",
    )
    assert other.status_code == 422
    assert Endpoint.objects.count() == 1


def test_a_retried_rotation_rotates_once_and_signs_with_the_secret_it_answered(
    api, httpserver, django_capture_on_commit_callbacks
):
    hook, url = receiver(httpserver, 200)
    target, _ = endpoint(url)
    path = f"{ENDPOINTS}{target.pk}/rotate-secret/"
    first = api.post(path, HTTP_IDEMPOTENCY_KEY="rotate-1").json()["secret"]
    again = api.post(path, HTTP_IDEMPOTENCY_KEY="rotate-1").json()["secret"]
    assert again == first
    target.refresh_from_db()
    assert target.secret == first
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"{ENDPOINTS}{target.pk}/ping/")
    (ping,) = hook.received
    assert documented_signature(first, ping["headers"]["Seams-Signature"], ping["body"])
    assert api.post(path, HTTP_IDEMPOTENCY_KEY="rotate-2").json()["secret"] != first


def test_a_retry_whose_sealed_answer_no_key_opens_is_a_409_that_changes_nothing(api, settings):
    body = {"url": "https://hooks.example.com/seams", "events": ["review.published"]}
    settings.SEAMS_ENCRYPTION_KEYS = Fernet.generate_key().decode()
    api.post(ENDPOINTS, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    settings.SEAMS_ENCRYPTION_KEYS = Fernet.generate_key().decode()
    again = api.post(ENDPOINTS, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "idempotency_answer_unreadable"
    assert Endpoint.objects.count() == 1
