"""Threaded comments: a thread per section, replies one level deep, resolving and reopening,
sanitised Markdown, and bounded queries."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents.models import Comment
from reviewflow import threads

from .conftest import token_client
from .factories import UserFactory
from .test_reviewflow_gate import in_review

pytestmark = pytest.mark.django_db


@pytest.fixture
def author():
    return UserFactory(username="author")


@pytest.fixture
def reviewer():
    return UserFactory(username="reviewer")


@pytest.fixture
def incident(author, reviewer):
    return in_review(author, reviewer)


def test_a_thread_on_a_section_is_shown_under_that_section(client, incident, reviewer):
    client.force_login(reviewer)
    client.post(
        reverse("reviewflow:thread_start", args=[incident.pk]),
        {"section": "impact", "body": "How many **users**?"},
    )
    client.post(
        reverse("reviewflow:thread_start", args=[incident.pk]), {"body": "Reads well overall."}
    )
    opener = Comment.objects.get(section="impact")
    client.post(
        reverse("reviewflow:thread_reply", args=[incident.pk, opener.pk]), {"body": "About 2,000."}
    )
    page = client.get(incident.get_absolute_url()).content.decode()
    whole, impact = page.index('id="threads-review"'), page.index('id="threads-impact"')
    question, answer = page.index("<strong>users</strong>"), page.index("About 2,000.")
    assert whole < impact < question < answer
    assert page.index("Reads well overall.") < impact


def test_a_reply_to_a_reply_joins_the_thread(incident, author, reviewer):
    opener = threads.thread_start(incident=incident, by=reviewer, body="Why?", section="summary")
    first = threads.thread_reply(thread=opener, by=author, body="Because.")
    second = threads.thread_reply(thread=first, by=reviewer, body="Thanks.")
    assert first.parent_id == opener.pk
    assert second.parent_id == opener.pk
    assert second.section == ""


def test_an_unknown_section_and_an_empty_comment_are_refused(client, incident, reviewer):
    api = token_client(reviewer, "write")
    bad = api.post(
        f"/api/v1/incidents/{incident.pk}/threads/", {"body": "x", "section": "nope"}, format="json"
    )
    assert bad.status_code == 400
    assert "section" in bad.json()["error"]["fields"]
    client.force_login(reviewer)
    page = client.post(
        reverse("reviewflow:thread_start", args=[incident.pk]), {"body": "  "}, follow=True
    )
    assert "A comment needs some text." in page.content.decode()
    assert not Comment.objects.exists()


def test_a_refused_comment_keeps_its_text(client, incident, reviewer, settings):
    settings.SEAMS_MAX_SECTION_CHARS = 20
    client.force_login(reviewer)
    page = client.post(
        reverse("reviewflow:thread_start", args=[incident.pk]),
        {"body": "This comment is far too long to fit."},
        follow=True,
    ).content.decode()
    assert "at most 20 fit" in page
    assert "This comment is far too long to fit.</textarea>" in page


def test_comment_markdown_is_sanitised(client, incident, reviewer):
    client.force_login(reviewer)
    client.post(
        reverse("reviewflow:thread_start", args=[incident.pk]),
        {"body": "[x](javascript:alert(1)) <img src=x onerror=alert(1)> *ok*"},
    )
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "<em>ok</em>" in page
    assert 'href="javascript:' not in page
    assert "onerror" not in page


def test_resolving_shows_who_and_reopening_clears_it(client, incident, author, reviewer):
    opener = threads.thread_start(incident=incident, by=reviewer, body="Check the timeline.")
    client.force_login(author)
    client.post(reverse("reviewflow:thread_resolve", args=[incident.pk, opener.pk]))
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "<strong>Resolved</strong> by author" in page
    assert "Reopen thread" in page
    # Resolving again keeps the first resolution.
    threads.thread_resolve(thread=opener, by=reviewer)
    opener.refresh_from_db()
    assert opener.resolved_by == author
    client.post(reverse("reviewflow:thread_reopen", args=[incident.pk, opener.pk]))
    opener.refresh_from_db()
    assert opener.resolved_at is None
    assert opener.resolved_by is None


def test_the_old_comment_form_still_adds_a_thread(client, incident, reviewer):
    client.force_login(reviewer)
    client.post(reverse("incidents:comment", args=[incident.pk]), {"body": "Old door."})
    comment = Comment.objects.get()
    assert comment.parent_id is None
    assert comment.section == ""


def test_threads_api_lists_replies_and_resolves(incident, author, reviewer):
    api = token_client(reviewer, "write")
    opened = api.post(
        f"/api/v1/incidents/{incident.pk}/threads/",
        {"body": "Is the date right?", "section": "timeline"},
        format="json",
    )
    assert opened.status_code == 201, opened.content
    thread = opened.json()
    assert (thread["section"], thread["author"], thread["replies"]) == ("timeline", "reviewer", [])
    replied = token_client(author, "write").post(
        f"/api/v1/incidents/{incident.pk}/threads/{thread['id']}/replies/",
        {"body": "Yes."},
        format="json",
    )
    assert replied.status_code == 201
    assert [r["body"] for r in replied.json()["replies"]] == ["Yes."]
    resolved = api.post(f"/api/v1/incidents/{incident.pk}/threads/{thread['id']}/resolve/")
    assert resolved.json()["resolved_by"] == "reviewer"
    listed = api.get(f"/api/v1/incidents/{incident.pk}/threads/").json()["results"]
    assert [(t["id"], len(t["replies"]), t["resolved_by"]) for t in listed] == [
        (thread["id"], 1, "reviewer")
    ]


def test_a_thread_of_another_review_is_not_found(incident, author, reviewer):
    other = in_review(author, reviewer, title="Another")
    opener = threads.thread_start(incident=other, by=reviewer, body="Elsewhere.")
    api = token_client(reviewer, "write")
    answer = api.post(
        f"/api/v1/incidents/{incident.pk}/threads/{opener.pk}/replies/",
        {"body": "x"},
        format="json",
    )
    assert answer.status_code == 404
    huge = api.post(f"/api/v1/incidents/{incident.pk}/threads/{2**40}/resolve/")
    assert huge.status_code == 404


def test_thread_list_and_review_page_query_counts(
    client, incident, author, reviewer, django_assert_max_num_queries
):
    for n in range(8):
        opener = threads.thread_start(
            incident=incident, by=reviewer, body=f"Point {n}", section="narrative"
        )
        threads.thread_reply(thread=opener, by=author, body=f"Answer {n}")
        threads.thread_resolve(thread=opener, by=author)
    api = token_client(reviewer, "read")
    # token, its user, count, threads (with authors), replies (with authors)
    with django_assert_max_num_queries(7):
        answer = api.get(f"/api/v1/incidents/{incident.pk}/threads/")
    assert len(answer.json()["results"]) == 8
    client.force_login(reviewer)
    with django_assert_max_num_queries(60):
        page = client.get(incident.get_absolute_url())
    assert (
        page.content.decode().count("Resolve thread") + page.content.decode().count("Reopen thread")
        == 8
    )
