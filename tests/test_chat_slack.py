"""Slack, spoken for real: signed requests to Seams' three Slack URLs, answers that arrive on
a local `response_url` server, and `chat.unfurl` calls to a local Slack Web API server
(pytest-httpserver). Jobs run eagerly, as in the rest of the unit suite."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import requests
from django.core.cache import cache
from django.utils import timezone
from werkzeug import Response

from chat.models import ChatIdentity, ChatRequest
from chat.tasks import answer_request_task, sweep_unanswered, sweep_unanswered_task
from incidents.models import Incident
from taxonomy.models import StructuralPattern

from .factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-seams-test-token"
BASE = "https://seams.example.org"
TEAM = "T0SEAMS"
SECRET_TITLE = "Zeppelin vault breach"


@pytest.fixture(autouse=True)
def slack_settings(settings, httpserver):
    settings.SLACK_SIGNING_SECRET = SECRET
    settings.SLACK_BOT_TOKEN = TOKEN
    settings.SLACK_API_URL = httpserver.url_for("/api")
    settings.SEAMS_BASE_URL = BASE
    cache.clear()  # the replay guard remembers signatures; each test starts afresh
    yield
    cache.clear()


def _term(slug: str) -> str:
    return StructuralPattern.objects.get(slug=slug).entry["match_terms"][0]


@pytest.fixture
def archive(save_review):
    security = GroupFactory(name="security")
    return {
        "push": save_review(
            title="Rule deployed worldwide pinned CPU",
            summary=f"The rule was {_term('fast-global-propagation')}.",
            patterns=["fast-global-propagation"],
            components=["WAF"],
        ),
        "secret": save_review(
            title=SECRET_TITLE,
            summary=f"The vault config was {_term('fast-global-propagation')}; "
            "rule deployed worldwide pinned CPU.",
            patterns=["fast-global-propagation"],
            restricted_to=security,
        ),
        "security": security,
    }


def sign(body: bytes, timestamp: int | None = None, secret: str = SECRET) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": str(timestamp),
        "HTTP_X_SLACK_SIGNATURE": f"v0={digest}",
    }


FORM = "application/x-www-form-urlencoded"


def post(client, path, body: bytes, content_type=FORM, headers=None):
    headers = sign(body) if headers is None else headers
    return client.post(path, body, content_type=content_type, **headers)


def command_body(httpserver, text: str, *, user="U0ASKER", trigger="13345224609.738474") -> bytes:
    return urlencode(
        {
            "token": "deprecated",
            "team_id": TEAM,
            "channel_id": "C0INCIDENT",
            "user_id": user,
            "command": "/seams",
            "text": text,
            "response_url": httpserver.url_for("/respond"),
            "trigger_id": trigger,
        }
    ).encode()


def answers_received(httpserver) -> list[dict]:
    return [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == "/respond"]


def blocks_text(message: dict) -> str:
    return json.dumps(message["blocks"])


def ask(client, httpserver, text, capture, **kwargs):
    httpserver.expect_request("/respond", method="POST").respond_with_data("ok")
    before = len(answers_received(httpserver))
    with capture(execute=True):
        response = post(
            client, "/integrations/slack/commands/", command_body(httpserver, text, **kwargs)
        )
        # The acknowledgement is the request's own answer: nothing has been posted yet.
        assert len(answers_received(httpserver)) == before
    assert len(answers_received(httpserver)) == before + 1
    return response


# --- The slash command -------------------------------------------------------------------


def test_a_signed_slash_command_is_acknowledged_then_answered_with_confidence_why_and_links(
    client, httpserver, archive, django_capture_on_commit_callbacks
):
    question = (
        f"similar A feature file was {_term('fast-global-propagation')} and every proxy crashed"
    )
    response = ask(client, httpserver, question, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert response.json() == {"response_type": "ephemeral", "text": "Looking…"}
    (answer,) = answers_received(httpserver)
    assert answer["response_type"] == "ephemeral"
    text = blocks_text(answer)
    push = archive["push"]
    assert f"<{BASE}/incidents/{push.pk}/|Rule deployed worldwide pinned CPU>" in text
    assert any(
        f"Confidence: *{level}* (score 0." in text for level in ("strong", "possible", "weak")
    )
    assert "Why: same mechanism: " in text
    assert "same structure: Fast global propagation" in text
    assert f"{BASE}/patterns/fast-global-propagation/" in text
    # Not linked to a Seams account: the restricted review is not there, not even its title.
    assert SECRET_TITLE not in json.dumps(answer)
    assert "link your chat account" in text


def test_a_linked_member_of_the_group_gets_the_restricted_review_and_an_unlinked_user_never(
    client, httpserver, archive, django_capture_on_commit_callbacks
):
    member = UserFactory(username="sec-member")
    member.groups.add(archive["security"])
    ChatIdentity.objects.create(team_id=TEAM, external_user_id="U0MEMBER", user=member)
    outsider = UserFactory(username="outsider")
    ChatIdentity.objects.create(team_id=TEAM, external_user_id="U0OUTSIDER", user=outsider)
    question = "similar vault config deployed worldwide pinned CPU"

    ask(
        client,
        httpserver,
        question,
        django_capture_on_commit_callbacks,
        user="U0MEMBER",
        trigger="t1",
    )
    ask(
        client,
        httpserver,
        question,
        django_capture_on_commit_callbacks,
        user="U0OUTSIDER",
        trigger="t2",
    )
    ask(client, httpserver, f"incident {archive['secret'].pk}", django_capture_on_commit_callbacks,
        user="U0NOBODY", trigger="t3")  # fmt: skip

    for_member, for_outsider, by_id = answers_received(httpserver)
    assert SECRET_TITLE in blocks_text(for_member)
    assert "link your chat account" not in blocks_text(for_member)
    assert SECRET_TITLE not in json.dumps(for_outsider)
    assert SECRET_TITLE not in json.dumps(by_id)
    assert f"No review #{archive['secret'].pk} found." in blocks_text(by_id)


def test_incident_and_pattern_lookups_answer_with_links(
    client, httpserver, archive, django_capture_on_commit_callbacks
):
    push = archive["push"]
    ask(client, httpserver, f"incident #{push.pk}", django_capture_on_commit_callbacks, trigger="a")
    ask(
        client,
        httpserver,
        "incident deployed worldwide",
        django_capture_on_commit_callbacks,
        trigger="b",
    )
    ask(client, httpserver, "pattern fast global propagation", django_capture_on_commit_callbacks,
        trigger="c")  # fmt: skip

    by_id, search, pattern = (blocks_text(a) for a in answers_received(httpserver))
    assert "Rule deployed worldwide pinned CPU" in by_id
    assert f"{BASE}/incidents/{push.pk}/" in by_id
    assert "Fast global propagation" in by_id
    assert f"{BASE}/incidents/{push.pk}/" in search
    assert SECRET_TITLE not in search
    assert f"{BASE}/?q=deployed+worldwide" in search
    assert '"text": "Fast global propagation"' in pattern
    assert f"{BASE}/patterns/fast-global-propagation/" in pattern
    assert f"{BASE}/incidents/{push.pk}/" in pattern
    assert SECRET_TITLE not in pattern


def test_help_and_mistakes_are_answered_at_once_without_a_job(client, httpserver):
    helped = post(client, "/integrations/slack/commands/", command_body(httpserver, "help"))
    unknown = post(client, "/integrations/slack/commands/", command_body(httpserver, "frobnicate"))
    empty = post(client, "/integrations/slack/commands/", command_body(httpserver, "similar"))

    assert "similar &lt;text&gt;" in blocks_text(helped.json())
    assert "Unknown command `frobnicate`" in blocks_text(unknown.json())
    assert "similar &lt;text&gt;" in blocks_text(empty.json())
    assert not ChatRequest.objects.exists()
    assert httpserver.log == []


# --- Refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "not_signed"),
        ("wrong secret", "bad_signature"),
        ("stale", "stale"),
        ("tampered", "bad_signature"),
    ],
)
def test_unsigned_wrongly_signed_or_stale_requests_are_refused_401(
    client, httpserver, headers, code
):
    body = command_body(httpserver, "similar the cache stampeded")
    if headers == "wrong secret":
        headers = sign(body, secret="not-the-secret")
    elif headers == "stale":
        headers = sign(body, timestamp=int(time.time()) - 6 * 60)
    elif headers == "tampered":
        headers = sign(body)
        body = body.replace(b"stampeded", b"exploded")
    response = post(client, "/integrations/slack/commands/", body, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert not ChatRequest.objects.exists()
    assert httpserver.log == []


def test_a_replayed_request_is_refused_403(client, httpserver, django_capture_on_commit_callbacks):
    httpserver.expect_request("/respond", method="POST").respond_with_data("ok")
    body = command_body(httpserver, "similar the cache stampeded")
    headers = sign(body)
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, "/integrations/slack/commands/", body, headers=headers)
        again = post(client, "/integrations/slack/commands/", body, headers=headers)

    assert first.status_code == 200
    assert again.status_code == 403
    assert again.json()["error"]["code"] == "replayed"
    assert len(answers_received(httpserver)) == 1


def test_without_a_signing_secret_every_slack_url_answers_503(client, settings, httpserver):
    settings.SLACK_SIGNING_SECRET = ""
    for path in ("commands", "events", "interactivity"):
        response = post(client, f"/integrations/slack/{path}/", b"text=help")
        assert response.status_code == 503
        assert "Slack is not configured" in response.json()["error"]["message"]


def test_the_slack_urls_take_only_post(client):
    assert client.get("/integrations/slack/commands/").status_code == 405


# --- Link unfurls ------------------------------------------------------------------------


def event_body(urls: list[str], event_id: str = "Ev0UNFURL") -> bytes:
    return json.dumps(
        {
            "token": "deprecated",
            "team_id": TEAM,
            "api_app_id": "A0SEAMS",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {
                "type": "link_shared",
                "channel": "C0INCIDENT",
                "user": "U0POSTER",
                "message_ts": "1700000000.000100",
                "links": [{"domain": "seams.example.org", "url": u} for u in urls],
            },
        }
    ).encode()


def test_the_events_url_answers_slacks_url_verification_challenge(client):
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"type": "url_verification", "challenge": challenge, "token": "x"}).encode()
    response = post(client, "/integrations/slack/events/", body, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {"challenge": challenge}


def test_review_links_are_unfurled_with_the_bot_token_and_a_restricted_review_shows_nothing(
    client, httpserver, archive, django_capture_on_commit_callbacks
):
    httpserver.expect_request(
        "/api/chat.unfurl", method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
    ).respond_with_json({"ok": True})
    push, secret = archive["push"], archive["secret"]
    urls = [
        f"{BASE}/incidents/{push.pk}/",
        f"{BASE}/incidents/{secret.pk}/",
        "https://elsewhere.example.com/incidents/1/",
        f"{BASE}/incidents/999999/",
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, "/integrations/slack/events/", event_body(urls), "application/json")
    assert response.status_code == 200

    (call,) = [req for req, _ in httpserver.log if req.path == "/api/chat.unfurl"]
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    sent = json.loads(call.get_data())
    assert sent["channel"] == "C0INCIDENT"
    assert sent["ts"] == "1700000000.000100"
    unfurls = sent["unfurls"]
    assert set(unfurls) == {urls[0], urls[1], urls[3]}
    assert "Rule deployed worldwide pinned CPU" in json.dumps(unfurls[urls[0]])
    assert "Fast global propagation" in json.dumps(unfurls[urls[0]])
    restricted = json.dumps(unfurls[urls[1]], ensure_ascii=False)
    assert "Open it in Seams to read it" in restricted
    # A number with no review looks exactly like a restricted one: links cannot be used to
    # find out which restricted reviews exist.
    missing = json.dumps(unfurls[urls[3]], ensure_ascii=False)
    assert missing == restricted.replace(urls[1], urls[3])
    assert SECRET_TITLE not in json.dumps(sent)
    assert "vault" not in json.dumps(sent)


def test_an_event_slack_sends_again_is_unfurled_once(
    client, httpserver, archive, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/api/chat.unfurl", method="POST").respond_with_json({"ok": True})
    body = event_body([f"{BASE}/incidents/{archive['push'].pk}/"])
    first_at = int(time.time())
    with django_capture_on_commit_callbacks(execute=True):
        post(client, "/integrations/slack/events/", body, "application/json",
             headers=sign(body, first_at))  # fmt: skip
    # Slack's retry is signed anew (another timestamp), so it is no replay: the event id
    # tells it is the same event. (Its timestamp is fixed relative to the first one: read
    # from the clock, it fell on the same second whenever the first request crossed one.)
    with django_capture_on_commit_callbacks(execute=True):
        retried = post(client, "/integrations/slack/events/", body, "application/json",
                       headers=sign(body, first_at - 1))  # fmt: skip
    assert retried.status_code == 200
    assert len([r for r, _ in httpserver.log if r.path == "/api/chat.unfurl"]) == 1


def test_a_refused_unfurl_is_recorded_and_not_retried(
    client, httpserver, archive, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/api/chat.unfurl").respond_with_json(
        {"ok": False, "error": "cannot_unfurl_url"}
    )
    body = event_body([f"{BASE}/incidents/{archive['push'].pk}/"])
    with django_capture_on_commit_callbacks(execute=True):
        post(client, "/integrations/slack/events/", body, "application/json")
    row = ChatRequest.objects.get()
    assert row.answered_at is not None
    assert "cannot_unfurl_url" in row.failure
    assert row.attempts == 1


def test_a_link_previewed_in_the_composer_is_unfurled_by_its_unfurl_id_and_source(
    client, httpserver, archive, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/api/chat.unfurl", method="POST").respond_with_json({"ok": True})
    body = json.loads(event_body([f"{BASE}/incidents/{archive['push'].pk}/"]))
    body["event"].update(
        {"channel": "COMPOSER", "message_ts": "Uxxxx-1", "unfurl_id": "C123456.7890.abc",
         "source": "composer"}
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        post(client, "/integrations/slack/events/", json.dumps(body).encode(), "application/json")

    (call,) = [json.loads(r.get_data()) for r, _ in httpserver.log]
    assert call["unfurl_id"] == "C123456.7890.abc"
    assert call["source"] == "composer"
    assert "channel" not in call


def test_without_a_bot_token_nothing_is_unfurled_and_the_row_says_why(
    client, httpserver, archive, settings, django_capture_on_commit_callbacks
):
    settings.SLACK_BOT_TOKEN = ""
    body = event_body([f"{BASE}/incidents/{archive['push'].pk}/"])
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, "/integrations/slack/events/", body, "application/json")
    assert response.status_code == 200
    assert httpserver.log == []
    assert "SLACK_BOT_TOKEN" in ChatRequest.objects.get().failure


# --- The message shortcut ----------------------------------------------------------------


def action_body(httpserver, text: str, callback_id="seams_seen_before") -> bytes:
    payload = {
        "type": "message_action",
        "callback_id": callback_id,
        "trigger_id": "13345224609.8534564800.6f8ab1f53e13d0cd15f96106292d5536",
        "response_url": httpserver.url_for("/respond"),
        "team": {"id": TEAM, "domain": "seams"},
        "user": {"id": "U0ASKER", "name": "asker"},
        "channel": {"id": "C0INCIDENT", "name": "incident"},
        "message": {"type": "message", "user": "U0OTHER", "ts": "1700000000.000200", "text": text},
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_the_message_shortcut_is_acknowledged_and_answered_on_the_response_url(
    client, httpserver, archive, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/respond", method="POST").respond_with_data("ok")
    text = f"Heads up: the new rule was {_term('fast-global-propagation')}, CPU pinned everywhere"
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, "/integrations/slack/interactivity/", action_body(httpserver, text))
        assert response.status_code == 200
        assert response.content == b""
        assert answers_received(httpserver) == []

    (answer,) = answers_received(httpserver)
    body = blocks_text(answer)
    assert "Have we seen this before?" in body
    assert f"{BASE}/incidents/{archive['push'].pk}/" in body
    assert "Why: " in body
    assert SECRET_TITLE not in json.dumps(answer)


def test_an_unknown_shortcut_or_a_broken_payload_is_400(client, httpserver):
    unknown = post(client, "/integrations/slack/interactivity/",
                   action_body(httpserver, "x", callback_id="other"))  # fmt: skip
    broken = post(client, "/integrations/slack/interactivity/", b"payload=%7Bnot+json")
    assert unknown.status_code == 400
    assert "seams_seen_before" in unknown.json()["error"]["message"]
    assert broken.status_code == 400
    assert not ChatRequest.objects.exists()


# --- Reliability -------------------------------------------------------------------------


def test_slack_unavailable_is_retried_and_the_answer_arrives_once(
    client, httpserver, archive, django_capture_on_commit_callbacks
):
    httpserver.expect_ordered_request("/respond").respond_with_response(Response("busy", 503))
    httpserver.expect_ordered_request("/respond").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=True):
        post(
            client, "/integrations/slack/commands/", command_body(httpserver, "similar CPU pinned")
        )

    assert len(answers_received(httpserver)) == 2  # the refused try, then the answer
    row = ChatRequest.objects.get()
    assert row.answered_at is not None
    assert row.failure == ""
    assert row.attempts == 2
    # Run again (a redelivered job): nothing is sent twice.
    assert answer_request_task.apply(args=[row.pk]).get() is False
    assert len(answers_received(httpserver)) == 2


def test_a_question_whose_job_was_lost_is_answered_by_the_sweep_once(
    client, httpserver, archive, monkeypatch
):
    httpserver.expect_request("/respond", method="POST").respond_with_data("ok")
    monkeypatch.setattr("chat.tasks.answer_request_task.apply_async", _broker_down)
    post(client, "/integrations/slack/commands/", command_body(httpserver, "similar CPU pinned"))
    assert ChatRequest.objects.filter(answered_at__isnull=True).count() == 1
    monkeypatch.undo()

    assert sweep_unanswered(grace=timedelta(0)) == 1
    assert sweep_unanswered(grace=timedelta(0)) == 0
    assert len(answers_received(httpserver)) == 1


def _broker_down(*args, **kwargs):
    raise ConnectionError("broker down")


def test_the_sweep_gives_up_on_questions_slack_no_longer_accepts_and_forgets_old_ones(
    client, httpserver, monkeypatch
):
    monkeypatch.setattr("chat.tasks.answer_request_task.apply_async", _broker_down)
    post(client, "/integrations/slack/commands/", command_body(httpserver, "similar CPU pinned"))
    ChatRequest.objects.update(created_at=timezone.now() - timedelta(minutes=40))
    assert sweep_unanswered(grace=timedelta(0)) == 0
    ChatRequest.objects.update(created_at=timezone.now() - timedelta(days=2))
    sweep_unanswered()
    assert not ChatRequest.objects.exists()


def test_questions_are_stored_encrypted(client, httpserver, monkeypatch):
    from django.db import connection

    monkeypatch.setattr("chat.tasks.answer_request_task.apply_async", _broker_down)
    post(client, "/integrations/slack/commands/", command_body(httpserver, "similar zebra outage"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload FROM chat_chatrequest")
        (stored,) = cursor.fetchone()
    assert "zebra" not in stored
    assert "zebra" in ChatRequest.objects.get().payload


@pytest.mark.parametrize("task", [answer_request_task, sweep_unanswered_task])
def test_chat_jobs_ack_late_have_time_limits_and_capped_jittered_backoff(task):
    assert task.name in ("chat.answer_request", "chat.sweep_unanswered")
    assert task.acks_late is True
    assert 0 < task.soft_time_limit < task.time_limit
    assert task.retry_jitter is True
    assert task.retry_backoff_max <= 300
    assert 0 < task.max_retries <= 10
    assert ConnectionError in task.autoretry_for


def test_beat_sweeps_unanswered_chat_questions():
    from config.celery_app import app

    entry = app.conf.beat_schedule["sweep-unanswered-chat-requests"]
    assert entry["task"] == "chat.sweep_unanswered"
    assert 0 < entry["options"]["expires"] < entry["schedule"]


def test_restricted_reviews_stay_restricted_in_the_database_fixture(archive):
    # Guards the fixture the leak tests rely on.
    assert Incident.objects.get(pk=archive["secret"].pk).restricted_to == archive["security"]


def test_the_acknowledgements_stay_within_a_few_queries(
    client, httpserver, archive, django_assert_max_num_queries
):
    # Slack waits three seconds at most: the request only records the question (the savepoint
    # that guards a duplicate, the insert); the search runs in the job, after the answer.
    url = f"{BASE}/incidents/{archive['push'].pk}/"
    with django_assert_max_num_queries(3):
        post(client, "/integrations/slack/commands/", command_body(httpserver, "similar CPU"))
    with django_assert_max_num_queries(3):
        post(client, "/integrations/slack/events/", event_body([url]), "application/json")
    with django_assert_max_num_queries(3):
        post(client, "/integrations/slack/interactivity/", action_body(httpserver, "CPU pinned"))
    assert ChatRequest.objects.count() == 3


# --- The embedded mode's acknowledgement -------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_in_the_embedded_mode_the_acknowledgement_is_sent_before_the_answer_is_posted(
    live_server, httpserver, archive
):
    """Under a real threaded server (as `make run` serves), the answer's job runs in-process,
    yet a slow answer cannot hold the acknowledgement past Slack's three seconds: the
    acknowledgement arrives while posting the answer is still blocked."""
    released = threading.Event()

    def slow_slack(request):
        released.wait(timeout=20)
        return Response("ok")

    httpserver.expect_request("/respond", method="POST").respond_with_handler(slow_slack)
    body = command_body(httpserver, "similar rule deployed worldwide pinned CPU")
    headers = {
        key.removeprefix("HTTP_").replace("_", "-").title(): value
        for key, value in sign(body).items()
    }
    try:
        acknowledged = requests.post(
            f"{live_server.url}/integrations/slack/commands/",
            data=body,
            headers={**headers, "Content-Type": FORM},
            timeout=3,
        )
        assert acknowledged.status_code == 200
        assert acknowledged.json()["text"] == "Looking…"
        assert answers_received(httpserver) == []
    finally:
        released.set()
    deadline = time.monotonic() + 20
    while not ChatRequest.objects.filter(answered_at__isnull=False).exists():
        assert time.monotonic() < deadline, "the answer was never posted"
        time.sleep(0.05)
    (answer,) = answers_received(httpserver)
    assert "Rule deployed worldwide pinned CPU" in blocks_text(answer)
