"""Reminders: one before the due date, one once it has passed, never twice."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import mail

from actions.reminders import send_reminders
from actions.tasks import send_reminders_task
from incidents import services
from notifications.models import Notification

from .actions_helpers import GroupFactory, days, item, person, review_with, stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run the reminder sweep as the beat job does, e-mails included (they go on commit)."""

    def _run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return send_reminders(**kwargs)

    return _run


def test_an_overdue_item_earns_its_owner_one_email_however_often_the_job_runs(run):
    owner = person("owner")
    incident = review_with(item("Cap the file size", owner_user=owner, due=days(-1)))
    run()
    run()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["owner@example.com"]
    assert "Cap the file size" in message.subject + message.body
    assert f"{settings.SEAMS_BASE_URL}{incident.get_absolute_url()}" in message.body
    assert Notification.objects.get().kind == Notification.Kind.ACTION_OVERDUE


def test_due_soon_then_overdue_one_each(run):
    owner = person("owner")
    incident = review_with(item("Cap the file size", owner_user=owner, due=days(2)))
    assert run().due_soon == 1
    assert run().due_soon == 0
    # Three days later the due date has passed: one more, of the other kind.
    assert run(today=days(3)).overdue == 1
    assert run(today=days(4)).overdue == 0
    assert [n.kind for n in Notification.objects.order_by("id")] == ["action_due", "action_overdue"]
    assert len(mail.outbox) == 2
    assert "is due on" in mail.outbox[0].body
    assert "still open" in mail.outbox[1].body
    assert all(incident.get_absolute_url() in m.body for m in mail.outbox)


def test_not_yet_due_closed_unowned_or_undated_items_earn_nothing(run):
    owner = person("owner")
    review_with(
        item("Far off", owner_user=owner, due=days(settings.SEAMS_REMINDER_DAYS_BEFORE + 1)),
        item("Done", owner_user=owner, due=days(-1), status="done"),
        item("Given up", owner_user=owner, due=days(-1), status="wont_do"),
        item("Owner as written only", owner="SRE", due=days(-1)),
        item("Undated", owner_user=owner),
    )
    assert run() == type(run())()  # nothing sent
    assert mail.outbox == []


def test_a_moved_due_date_earns_a_new_reminder_and_editing_the_review_does_not(run):
    author, owner = person("author"), person("owner")
    incident = review_with(item("Cap", owner_user=owner, due=days(-1)), by=author)
    run()
    # An edit that leaves the item as it is keeps it (and what was sent about it).
    services.incident_patch(incident=incident, by=author, fields={"summary": "More detail."})
    run()
    assert len(mail.outbox) == 1
    content = services.content_from_snapshot(incident.revisions.latest("version").snapshot)
    content.actions[0].due = days(-2)
    services.incident_update(incident=incident, by=author, content=content)
    run()
    assert len(mail.outbox) == 2
    assert Notification.objects.filter(action_item=stored(incident, "Cap")).count() == 2


def test_a_team_item_reminds_each_active_member_once(run):
    team = GroupFactory(name="sre")
    members = [person("a"), person("b"), person("gone", is_active=False)]
    for member in members:
        member.groups.add(team)
    review_with(item("Own the pipeline", owner_team=team, due=days(-1)))
    run()
    run()
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.com", "b@example.com"]


def test_restricted_reviews_remind_only_owners_who_may_read_them(run):
    secret, team = GroupFactory(name="secret"), GroupFactory(name="sre")
    insider, outsider = person("insider"), person("outsider")
    insider.groups.add(secret, team)
    outsider.groups.add(team)
    review_with(
        item("Rotate the keys", owner_team=team, due=days(-1)),
        item("Outsider's", owner_user=outsider, due=days(-1)),
        title="Key leak",
        restricted_to=secret,
    )
    run()
    assert [m.to for m in mail.outbox] == [["insider@example.com"]]
    assert not Notification.objects.filter(recipient=outsider).exists()


def test_the_task_is_scheduled_and_runs_the_sweep(django_capture_on_commit_callbacks):
    entry = settings.CELERY_BEAT_SCHEDULE["send-action-reminders"]
    assert entry["task"] == send_reminders_task.name == "actions.send_reminders"
    assert entry["schedule"] == settings.SEAMS_REMINDER_INTERVAL
    review_with(item("Cap", owner_user=person("owner"), due=days(-1)))
    with django_capture_on_commit_callbacks(execute=True):
        assert send_reminders_task.apply().get() == {"due_soon": 0, "overdue": 1}
    assert len(mail.outbox) == 1
