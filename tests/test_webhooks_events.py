"""Where each webhook event comes from — publishing, sending for review, the recurrence
analysis, overdue action items — and what its payload says (and never says)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from incidents import services
from incidents.analysis.recurrence import analyse_incident, recompute_all
from incidents.models import Incident
from webhooks.delivery import deliver
from webhooks.events import emit_overdue_action_items, emit_recent_recurrences
from webhooks.models import Delivery, Event
from webhooks.payloads import PAYLOADS
from webhooks.tasks import emit_periodic_events_task

from .actions_helpers import days, item, person, review_with
from .factories import GroupFactory, UserFactory
from .test_recurrence_definition import PATTERN, day, incident
from .test_reviewflow_gate import approve, complete_content
from .webhooks_helpers import admin, endpoint, receiver

pytestmark = pytest.mark.django_db


def valid(event: Event) -> dict:
    """The event's body, checked against the serializer the OpenAPI schema documents."""
    body = PAYLOADS[event.type](data=event.payload)
    assert body.is_valid(), body.errors
    return event.payload


def test_publishing_a_review_sends_review_requested_then_review_published(
    httpserver, django_capture_on_commit_callbacks
):
    hook, url = receiver(httpserver, 200)
    endpoint(url)
    author, reviewer = UserFactory(username="ana"), UserFactory(username="ravi")
    with django_capture_on_commit_callbacks(execute=True):
        draft = services.incident_create(by=author, content=complete_content())
        services.incident_request_review(incident=draft, by=author, reviewers=[reviewer])
    approve(draft, reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_publish(incident=Incident.objects.get(pk=draft.pk), by=reviewer)

    types = [e["type"] for e in hook.events()]
    assert types == ["review.requested", "review.published"]
    requested, published = (valid(e) for e in Event.objects.order_by("created_at"))
    assert requested["data"]["reviewers"] == ["ravi"]
    assert requested["data"]["requested_by"] == "ana"
    assert published["data"]["review"]["title"] == "Gateway certificates expired"
    assert published["data"]["review"]["status"] == "published"
    assert published["data"]["published_by"] == "ravi"
    assert published["data"]["review"]["url"].endswith(f"/incidents/{draft.pk}/")
    assert hook.received[1]["headers"]["Seams-Event"] == "review.published"


def test_a_publication_rolled_back_sends_nothing(httpserver, django_capture_on_commit_callbacks):
    hook, url = receiver(httpserver, 200)
    endpoint(url, events=["review.published"])
    author = UserFactory(username="ana")
    draft = services.incident_create(by=author, content=complete_content())
    # Refused by the gate (no approval): no event, nothing sent.
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(services.PublishBlocked):
        services.incident_publish(incident=draft, by=author)
    assert Event.objects.count() == 0
    assert hook.received == []


def test_a_restricted_review_is_announced_only_to_endpoints_scoped_to_its_group(
    httpserver, django_capture_on_commit_callbacks
):
    security = GroupFactory(name="security")
    root = admin("root", is_superuser=True)
    scoped_hook, scoped_url = receiver(httpserver, 200, path="/scoped")
    open_hook, open_url = receiver(httpserver, 200, path="/open")
    scoped, _ = endpoint(scoped_url, by=root, scope=[security])
    endpoint(open_url, by=root)
    author = UserFactory(username="ana")
    author.groups.add(security)
    with django_capture_on_commit_callbacks(execute=True):
        services.incident_create(
            by=author, content=complete_content("Leaked signing key", restricted_to=security)
        )
        open_review = services.incident_create(by=author, content=complete_content("Open one"))
        for draft in Incident.objects.all():
            services.incident_request_review(
                incident=draft, by=author, reviewers=[UserFactory(username="ravi")]
            )

    scoped_titles = sorted(e["data"]["review"]["title"] for e in scoped_hook.events())
    assert scoped_titles == ["Leaked signing key", "Open one"]
    assert [e["data"]["review"]["title"] for e in open_hook.events()] == ["Open one"]
    assert b"Leaked" not in b"".join(r["body"] for r in open_hook.received)
    restricted = Event.objects.get(restricted_to=security)
    assert restricted.payload["data"]["review"]["restricted"] is True
    assert [d.endpoint for d in restricted.deliveries.all()] == [scoped]
    assert Event.objects.get(restricted_to=None).payload["data"]["review"]["id"] == open_review.pk


def test_a_structure_that_recurs_is_announced_once_with_the_earlier_review(
    httpserver, django_capture_on_commit_callbacks
):
    hook, url = receiver(httpserver, 200)
    endpoint(url)
    a = incident("A", started=day(0), reviewed=day(5))
    b = incident("B", started=day(40), reviewed=day(45))
    with django_capture_on_commit_callbacks(execute=True):
        analyse_incident(incident_id=a.pk)
        analyse_incident(incident_id=b.pk)
        analyse_incident(incident_id=b.pk)  # analysed again: no second event

    (event,) = Event.objects.filter(type="structure.recurred")
    body = valid(event)
    assert body["data"]["review"]["title"] == "B"
    assert body["data"]["previous_review"]["title"] == "A"
    assert body["data"]["structure"]["pattern"] == PATTERN
    assert [e["type"] for e in hook.events()] == ["structure.recurred"]
    assert not Event.objects.filter(type="structure.recurred_despite_remediation").exists()
    # The periodic catch-up and a full recompute find nothing new.
    recompute_all()
    assert emit_recent_recurrences(days=100_000) == 0


def test_recurring_despite_remediation_is_its_own_event(httpserver):
    _, url = receiver(httpserver, 200)
    endpoint(url, events=["structure.recurred_despite_remediation"])
    a = incident(
        "A", started=day(0), reviewed=day(5),
        actions=[("component_patch", "done", day(10), PATTERN)],
    )  # fmt: skip
    b = incident("B", started=day(40), reviewed=day(45))
    analyse_incident(incident_id=a.pk)
    analyse_incident(incident_id=b.pk)
    (event,) = Event.objects.all()
    assert event.type == "structure.recurred_despite_remediation"
    assert valid(event)["data"]["remediation_kinds"] == ["component_patch"]


def test_a_recurrence_names_an_earlier_review_of_another_group_to_nobody(httpserver):
    security = GroupFactory(name="security")
    _, url = receiver(httpserver, 200)
    endpoint(url)
    a = incident("Secret A", started=day(0), reviewed=day(5), restricted_to=security)
    b = incident("Open B", started=day(40), reviewed=day(45))
    analyse_incident(incident_id=a.pk)
    analyse_incident(incident_id=b.pk)
    (event,) = Event.objects.filter(type="structure.recurred")
    assert event.restricted_to is None
    assert valid(event)["data"]["previous_review"] is None
    assert "Secret A" not in str(event.payload)


def test_a_recompute_that_finds_a_recurrence_is_caught_up_by_the_periodic_job(httpserver):
    _, url = receiver(httpserver, 200)
    endpoint(url, events=["structure.recurred"])
    a = incident("A", started=day(0), reviewed=day(5))
    b = incident("B", started=day(40), reviewed=day(45))
    recompute_all()  # sends no per-incident signal
    assert not Event.objects.exists()
    Incident.objects.filter(pk__in=[a.pk, b.pk]).update(analysed_at=timezone.now())
    assert emit_periodic_events_task.apply().get()["recurrences"] == 1
    assert Event.objects.get().payload["data"]["review"]["title"] == "B"
    assert emit_periodic_events_task.apply().get()["recurrences"] == 0


def test_a_structure_a_recompute_recognises_anew_is_announced_once_naming_only_open_reviews(
    httpserver, django_capture_on_commit_callbacks
):
    security = GroupFactory(name="security")
    hook, url = receiver(httpserver, 200)
    endpoint(url, events=["structure.recognised"])
    incident("A", started=day(0), reviewed=day(5))
    incident("Secret B", started=day(20), reviewed=day(25), restricted_to=security)
    incident("C", started=day(40), reviewed=day(45))
    with django_capture_on_commit_callbacks(execute=True):
        recompute_all()  # the first recompute: every structure is new to Seams
    (event,) = Event.objects.filter(type="structure.recognised")
    data = valid(event)["data"]
    assert data["structure"]["pattern"] == PATTERN
    assert data["reviews"] == 2  # the restricted review is neither counted nor named
    assert (data["earliest_review"]["title"], data["latest_review"]["title"]) == ("A", "C")
    assert "Secret B" not in str(event.payload)
    assert event.restricted_to is None
    assert [e["type"] for e in hook.events()] == ["structure.recognised"]
    # A recompute that finds the same structures again is no news.
    with django_capture_on_commit_callbacks(execute=True):
        recompute_all()
    assert Event.objects.filter(type="structure.recognised").count() == 1
    assert len(hook.received) == 1


def test_a_structure_with_one_open_review_is_not_announced(httpserver):
    security = GroupFactory(name="security")
    _, url = receiver(httpserver, 200)
    endpoint(url, events=["structure.recognised"])
    incident("Secret A", started=day(0), reviewed=day(5), restricted_to=security)
    incident("B", started=day(40), reviewed=day(45))
    assert recompute_all() >= 1
    assert not Event.objects.exists()


def test_a_structure_found_by_analysing_a_new_review_is_a_recurrence_not_a_recognition(
    httpserver,
):
    _, url = receiver(httpserver, 200)
    endpoint(url)
    a = incident("A", started=day(0), reviewed=day(5))
    b = incident("B", started=day(40), reviewed=day(45))
    analyse_incident(incident_id=a.pk)
    analyse_incident(incident_id=b.pk)
    recompute_all()
    assert [e.type for e in Event.objects.all()] == ["structure.recurred"]


def test_an_overdue_action_item_is_announced_once_per_due_date(httpserver):
    hook, url = receiver(httpserver, 200)
    endpoint(url, events=["action_item.overdue"])
    owner = person("owner")
    review = review_with(
        item("Cap the file size", owner_user=owner, due=days(-1)),
        item("Not yet due", owner_user=owner, due=days(3)),
        item("Done already", owner_user=owner, due=days(-5), status="done"),
    )
    assert emit_overdue_action_items() == 1
    assert emit_overdue_action_items() == 0
    (event,) = Event.objects.all()
    body = valid(event)
    assert body["data"]["action_item"]["title"] == "Cap the file size"
    assert body["data"]["action_item"]["owner"] == "owner"
    assert body["data"]["review"]["id"] == review.pk
    # A new due date that passes is news again.
    review.action_items.filter(title="Cap the file size").update(due=days(-2))
    assert emit_overdue_action_items() == 1
    for delivery in Delivery.objects.all():
        deliver(delivery.pk)
    assert len(hook.received) == 2


def test_nothing_is_recorded_when_nobody_subscribes(httpserver):
    _, url = receiver(httpserver, 200)
    endpoint(url, events=["review.published"])
    review_with(item("Cap the file size", owner_user=person("owner"), due=days(-1)))
    assert emit_overdue_action_items() == 0
    assert not Event.objects.exists()
