"""Who is told what as a review goes through review: in the inbox and by e-mail, exactly once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from incidents import services
from notifications.models import Notification
from notifications.tasks import sweep_unsent_emails
from reviewflow import gate, notices, threads

from .conftest import token_client
from .factories import UserFactory
from .test_reviewflow_gate import complete_content

pytestmark = pytest.mark.django_db


def person(name: str):
    return UserFactory(username=name, email=f"{name}@example.com")


@pytest.fixture
def team():
    return {name: person(name) for name in ("author", "ana", "ben", "cleo")}


@pytest.fixture
def incident(team, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        review = services.incident_create(by=team["author"], content=complete_content())
        services.incident_request_review(
            incident=review, by=team["author"], reviewers=[team["ana"], team["ben"]]
        )
    review.refresh_from_db()
    return review


def told(kind: str) -> list[str]:
    return sorted(
        Notification.objects.filter(kind=kind).values_list("recipient__username", flat=True)
    )


def mailed() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def test_review_requested_tells_the_reviewers_once(incident, team):
    assert told("review_requested") == ["ana", "ben"]
    assert mailed() == ["ana@example.com", "ben@example.com"]
    assert "asked you to review" in mail.outbox[0].subject
    assert f"/incidents/{incident.pk}/" in mail.outbox[0].body
    # The same event told again (a retried job) is no new notification and no new e-mail.
    notices.tell_reviewers_of_request(
        incident=incident, by=team["author"], reviewers=[team["ana"], team["ben"]]
    )
    assert told("review_requested") == ["ana", "ben"]
    assert len(mail.outbox) == 2


def test_decisions_tell_the_author(incident, team, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        gate.decide(incident=incident, by=team["ana"], decision="approved")
        gate.decide(
            incident=incident, by=team["ben"], decision="changes_requested", note="Add detection."
        )
    assert told("approved") == ["author"]
    assert told("changes_requested") == ["author"]
    assert mailed() == ["author@example.com", "author@example.com"]
    note = Notification.objects.get(kind="changes_requested")
    assert "ben asked for changes" in note.text
    assert "Add detection." in note.text


def test_a_comment_tells_author_reviewers_and_participants_but_not_the_commenter(
    incident, team, django_capture_on_commit_callbacks
):
    opener = threads.thread_start(incident=incident, by=team["cleo"], body="Question.")
    Notification.objects.all().delete()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        threads.thread_reply(thread=opener, by=team["ana"], body="Answer.")
    # cleo opened the thread; ana wrote the reply and is not told of her own words.
    assert told("comment") == ["author", "ben", "cleo"]
    assert mailed() == ["author@example.com", "ben@example.com", "cleo@example.com"]
    assert Notification.objects.get(recipient=team["cleo"]).url.endswith(f"#thread-{opener.pk}")


def test_a_mention_is_told_once_as_a_mention(incident, team, django_capture_on_commit_callbacks):
    Notification.objects.all().delete()
    mail.outbox.clear()
    dora = person("dora")
    with django_capture_on_commit_callbacks(execute=True):
        threads.thread_start(
            incident=incident,
            by=team["author"],
            body="@dora and @ben, see this. Mail dora@example.com or @nobody.",
        )
    assert told("mention") == ["ben", "dora"]
    assert told("comment") == ["ana"]  # ben was told once, as a mention
    assert mailed() == ["ana@example.com", "ben@example.com", "dora@example.com"]
    assert Notification.objects.filter(recipient=dora).count() == 1


def test_mentions_are_read_from_the_text():
    assert notices.mentioned_usernames("Hi @ana. And @ben.b, cc me@example.com (@ana)") == [
        "ana",
        "ben.b",
    ]


def test_the_inbox_unread_first_mark_read_and_the_nav_count(client, incident, team):
    ana = team["ana"]
    threads.thread_start(incident=incident, by=team["ben"], body="Later remark.")
    first = Notification.objects.get(recipient=ana, kind="review_requested")
    client.force_login(ana)
    page = client.get(reverse("notifications:inbox")).content.decode()
    assert 'Inbox <span class="badge">2<' in page
    assert page.index("Later remark.") < page.index("asked you to review")

    client.post(reverse("notifications:mark_read", args=[first.pk]))
    first.refresh_from_db()
    assert first.read_at is not None
    page = client.get(reverse("notifications:inbox")).content.decode()
    assert 'Inbox <span class="badge">1<' in page

    client.post(reverse("notifications:mark_all_read"))
    page = client.get(reverse("notifications:inbox")).content.decode()
    assert 'Inbox <span class="badge">' not in page
    assert not Notification.objects.filter(recipient=ana, read_at__isnull=True).exists()


def test_opening_a_notification_marks_it_read_and_goes_there(client, incident, team):
    note = Notification.objects.get(recipient=team["ana"])
    client.force_login(team["ana"])
    answer = client.post(reverse("notifications:mark_read", args=[note.pk]), {"next": note.url})
    assert answer.status_code == 302
    assert answer["Location"] == note.url
    away = client.post(
        reverse("notifications:mark_read", args=[note.pk]), {"next": "https://evil.example/"}
    )
    assert away["Location"] == reverse("notifications:inbox")


def test_someone_elses_notification_is_not_found(client, incident, team):
    theirs = Notification.objects.get(recipient=team["ana"])
    client.force_login(team["ben"])
    assert client.post(reverse("notifications:mark_read", args=[theirs.pk])).status_code == 404
    api = token_client(team["ben"], "write")
    assert api.post(f"/api/v1/notifications/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_notifications_api(incident, team):
    api = token_client(team["ana"], "write")
    listed = api.get("/api/v1/notifications/").json()["results"]
    assert [(n["kind"], n["incident"], n["actor"], n["unread"]) for n in listed] == [
        ("review_requested", incident.pk, "author", True)
    ]
    read = api.post(f"/api/v1/notifications/{listed[0]['id']}/read/")
    assert read.status_code == 200
    assert read.json()["unread"] is False
    threads.thread_start(incident=incident, by=team["ben"], body="One more.")
    assert api.post("/api/v1/notifications/read-all/").json() == {"marked": 1}
    assert (
        token_client(team["ana"], "read").post("/api/v1/notifications/read-all/").status_code == 403
    )


def test_the_sweep_sends_the_emails_whose_job_was_lost(team, settings):
    settings.SEAMS_NOTIFICATION_EMAIL_GRACE_SECONDS = 60
    old = timezone.now() - dt.timedelta(minutes=5)
    lost = Notification.objects.create(
        recipient=team["ana"], kind="comment", text="Lost in the broker.", created_at=old
    )
    Notification.objects.create(recipient=team["ben"], kind="comment", text="Just made.")
    Notification.objects.create(
        recipient=team["cleo"], kind="comment", text="Sent.", created_at=old, emailed_at=old
    )
    Notification.objects.create(
        recipient=team["author"],
        kind="comment",
        text="Long gone.",
        created_at=timezone.now() - dt.timedelta(days=10),
    )
    assert sweep_unsent_emails() == 1
    assert mailed() == ["ana@example.com"]
    lost.refresh_from_db()
    assert lost.emailed_at is not None
    assert sweep_unsent_emails() == 0  # sent once, never again
    assert len(mail.outbox) == 1


def test_inbox_page_and_api_query_counts(client, incident, team, django_assert_max_num_queries):
    for n in range(30):
        threads.thread_start(incident=incident, by=team["ben"], body=f"Remark {n}")
    client.force_login(team["ana"])
    # session, user, paginator count, page (actors joined), nav count
    with django_assert_max_num_queries(8):
        page = client.get(reverse("notifications:inbox"))
    assert page.content.decode().count('class="notification unread"') == 31
    api = token_client(team["ana"], "read")
    with django_assert_max_num_queries(6):
        listed = api.get("/api/v1/notifications/")
    assert len(listed.json()["results"]) == 31
