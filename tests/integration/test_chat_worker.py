"""Slack through the real stack: a signed slash command is acknowledged by Seams, a real
Celery worker (through the real Redis and PostgreSQL) posts the answer to a local
`response_url` and unfurls a review link on a local Slack Web API, and the replay guard,
kept in Redis, refuses the same request again."""

from __future__ import annotations

import json

import pytest

from chat.models import ChatRequest
from tests.factories import GroupFactory, review
from tests.test_chat_slack import (
    BASE,
    SECRET,
    SECRET_TITLE,
    TOKEN,
    answers_received,
    command_body,
    event_body,
    post,
    sign,
)

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def slack(settings, monkeypatch, httpserver):
    """The same Slack settings for this process (the web side) and the worker."""
    values = {
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": httpserver.url_for("/api"),
        "SEAMS_BASE_URL": BASE,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
        setattr(settings, name, value)


def test_a_worker_answers_a_signed_command_and_unfurls_and_redis_refuses_a_replay(
    client, httpserver, slack, start_worker, flush_queue
):
    worker = start_worker()
    push = review(
        title="Rule deployed worldwide pinned CPU",
        summary="The WAF rule was pushed to all edge nodes at once and CPU was pinned.",
        patterns=["fast-global-propagation"],
    )
    review(
        title=SECRET_TITLE,
        summary="The vault rule was pushed to all edge nodes at once and CPU was pinned.",
        patterns=["fast-global-propagation"],
        restricted_to=GroupFactory(name="security"),
    )
    httpserver.expect_request("/respond", method="POST").respond_with_data("ok")
    httpserver.expect_request("/api/chat.unfurl", method="POST").respond_with_json({"ok": True})

    body = command_body(httpserver, "similar a rule pushed to all edge nodes pinned the CPU")
    headers = sign(body)
    response = post(client, "/integrations/slack/commands/", body, headers=headers)
    assert response.status_code == 200
    assert response.json()["text"] == "Looking…"

    wait_for(lambda: answers_received(httpserver), timeout=60, what="the worker's answer")
    (answer,) = answers_received(httpserver)
    assert f"{BASE}/incidents/{push.pk}/" in json.dumps(answer["blocks"])
    assert "Confidence: *" in json.dumps(answer["blocks"])
    assert SECRET_TITLE not in json.dumps(answer)
    assert "chat.answer_request" in worker.output()

    # The same signed request again, through another process's view of the cache: refused.
    again = post(client, "/integrations/slack/commands/", body, headers=headers)
    assert again.status_code == 403

    url = f"{BASE}/incidents/{push.pk}/"
    post(client, "/integrations/slack/events/", event_body([url]), "application/json")

    def unfurled() -> bool:
        return any(r.path == "/api/chat.unfurl" for r, _ in httpserver.log)

    wait_for(unfurled, timeout=60, what="the worker's chat.unfurl")
    (call,) = [r for r, _ in httpserver.log if r.path == "/api/chat.unfurl"]
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Rule deployed worldwide pinned CPU" in call.get_data(as_text=True)
    wait_for(
        lambda: not ChatRequest.objects.filter(answered_at__isnull=True).exists(),
        timeout=30,
        what="both questions marked answered",
    )
