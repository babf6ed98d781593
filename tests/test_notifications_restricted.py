"""A restricted review is never told, e-mailed or listed to anyone outside its group."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from incidents import services
from notifications import tasks
from notifications.email import email_notification
from notifications.models import Notification
from notifications.services import notify
from notifications.tasks import sweep_unsent_emails
from reviewflow import gate, threads

from .conftest import token_client
from .factories import GroupFactory, UserFactory
from .test_reviewflow_gate import complete_content

pytestmark = pytest.mark.django_db

SECRET = "Zeppelin vault breach"


def person(name: str):
    return UserFactory(username=name, email=f"{name}@example.com")


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    group = GroupFactory(name="security")
    author, member, outsider = person("author"), person("member"), person("outsider")
    author.groups.add(group)
    member.groups.add(group)
    with django_capture_on_commit_callbacks(execute=True):
        secret = services.incident_create(
            by=author, content=complete_content(title=SECRET, restricted_to=group)
        )
        # The request-review form offers every active user: the outsider can be named.
        services.incident_request_review(incident=secret, by=author, reviewers=[member, outsider])
    secret.refresh_from_db()
    return {"group": group, "author": author, "member": member, "outsider": outsider,
            "secret": secret}  # fmt: skip


def _everything_told_to(user) -> str:
    notes = Notification.objects.filter(recipient=user).values_list("text", flat=True)
    mails = [m.subject + m.body for m in mail.outbox if user.email in m.to]
    return " ".join([*notes, *mails])


def test_a_reviewer_outside_the_group_is_not_told_of_the_request(world):
    assert SECRET in _everything_told_to(world["member"])
    assert _everything_told_to(world["outsider"]) == ""


def test_a_mention_of_an_outsider_tells_them_nothing(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        threads.thread_start(
            incident=world["secret"], by=world["author"], body="@outsider @member look"
        )
    assert Notification.objects.filter(recipient=world["member"], kind="mention").exists()
    assert _everything_told_to(world["outsider"]) == ""


def test_comments_and_decisions_never_reach_the_outsider(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        opener = threads.thread_start(incident=world["secret"], by=world["member"], body="Hm.")
        threads.thread_reply(thread=opener, by=world["author"], body="Yes.")
        gate.decide(incident=world["secret"], by=world["member"], decision="approved")
    assert _everything_told_to(world["outsider"]) == ""
    assert Notification.objects.filter(recipient=world["author"], kind="approved").exists()


def test_no_caller_of_notify_can_tell_an_outsider(world):
    # The rule is notify()'s own, for every app that tells people things.
    made = notify(
        recipients=[world["outsider"], world["member"]],
        kind=Notification.Kind.COMMENT,
        text=f"About {SECRET}",
        incident=world["secret"],
        key="direct",
    )
    assert [n.recipient for n in made] == [world["member"]]


def test_leaving_the_group_hides_what_one_was_told(world, client):
    member = world["member"]
    note = Notification.objects.get(recipient=member)
    member.groups.remove(world["group"])
    client.force_login(member)
    page = client.get(reverse("notifications:inbox")).content.decode()
    assert SECRET not in page
    assert 'Inbox <span class="badge">' not in page
    listed = token_client(member, "read").get("/api/v1/notifications/").json()
    assert listed["results"] == []
    assert client.post(reverse("notifications:mark_read", args=[note.pk])).status_code == 404


def test_an_email_still_queued_is_not_sent_after_leaving_the_group(world, monkeypatch):
    member = world["member"]
    note = Notification.objects.create(
        recipient=member, kind="comment", text=f"About {SECRET}", incident=world["secret"]
    )
    member.groups.remove(world["group"])
    mail.outbox.clear()
    assert email_notification(note.pk) is False
    assert mail.outbox == []
    # Withheld for good: the sweep of lost e-mail jobs does not queue it again and again.
    Notification.objects.filter(pk=note.pk).update(created_at=timezone.now() - timedelta(hours=1))
    queued = []
    monkeypatch.setattr(tasks, "enqueue_emails", queued.extend)
    assert sweep_unsent_emails(grace_seconds=60) == 0
    assert queued == []
