"""The webhook pages, as an admin uses them: create an endpoint (secret shown once), edit,
ping, read the delivery log, redeliver, switch a dead endpoint on again, delete."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from webhooks.delivery import deliver, disable
from webhooks.events import emit
from webhooks.models import Delivery, Endpoint

from .factories import GroupFactory, UserFactory
from .webhooks_helpers import admin, documented_signature, endpoint, receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(client):
    person = admin("boss")
    client.force_login(person)
    return person


def test_only_admins_see_the_nav_link_and_the_pages(client):
    reader = UserFactory(username="reader", role="reader")
    client.force_login(reader)
    assert b"Webhooks</a>" not in client.get("/").content
    assert client.get(reverse("webhooks:list")).status_code == 403
    assert client.post(reverse("webhooks:create"), {}).status_code == 403
    client.force_login(admin("boss"))
    assert b"Webhooks</a>" in client.get("/").content
    assert client.get(reverse("webhooks:list")).status_code == 200
    staff = UserFactory(username="staff", role="reader", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("webhooks:list")).status_code == 200


def test_anonymous_people_are_sent_to_log_in(client):
    answer = client.get(reverse("webhooks:list"))
    assert answer.status_code == 302
    assert "/login/" in answer["Location"]


def test_creating_an_endpoint_shows_its_secret_once_and_the_ping_verifies_with_it(
    client, boss, httpserver, django_capture_on_commit_callbacks
):
    hook, url = receiver(httpserver, 200)
    answer = client.post(
        reverse("webhooks:create"),
        {"url": url, "description": "Bot", "events": ["review.published"]},
    )
    assert answer.status_code == 200
    secret = re.search(rb'id="webhook-secret">(whsec_[^<]+)<', answer.content).group(1).decode()
    created = Endpoint.objects.get()
    assert created.secret == secret
    # Stored encrypted, and never shown again.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_endpoint")
        assert secret not in cursor.fetchone()[0]
    page = client.get(created.get_absolute_url())
    assert secret.encode() not in page.content

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("webhooks:ping", args=[created.pk]))
    (request,) = hook.received
    assert request["headers"]["Seams-Event"] == "ping"
    assert documented_signature(secret, request["headers"]["Seams-Signature"], request["body"])
    log = client.get(created.get_absolute_url())
    assert b"A test ping from Seams." in log.content
    assert b"200" in log.content


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/hook", "javascript:alert(1)", "not a url", "http://" + "a" * 600 + ".com"],
)
def test_a_bad_address_is_refused_with_a_message(client, boss, url):
    answer = client.post(reverse("webhooks:create"), {"url": url, "events": ["review.published"]})
    assert answer.status_code == 400
    assert b"errorlist" in answer.content
    assert not Endpoint.objects.exists()


def test_the_scope_offers_only_the_admins_own_teams(client, boss):
    mine, other = GroupFactory(name="payments"), GroupFactory(name="security")
    boss.groups.add(mine)
    form = client.get(reverse("webhooks:create"))
    assert b"payments" in form.content
    assert b"security" not in form.content
    answer = client.post(
        reverse("webhooks:create"),
        {"url": "https://hooks.example.com/", "events": ["review.published"], "scope": [other.pk]},
    )
    assert answer.status_code == 400
    assert not Endpoint.objects.exists()


def test_editing_keeps_the_teams_of_the_scope_the_editor_is_not_in(client, boss):
    security = GroupFactory(name="security")
    target, _ = endpoint("https://hooks.example.com/", scope=[security])
    answer = client.post(
        reverse("webhooks:edit", args=[target.pk]),
        {"url": "https://hooks.example.com/new", "events": ["action_item.overdue"]},
    )
    assert answer.status_code == 302
    target.refresh_from_db()
    assert target.url == "https://hooks.example.com/new"
    assert target.events == ["action_item.overdue"]
    assert list(target.scope.all()) == [security]


def test_redeliver_sends_the_same_event_again_with_a_new_delivery_id(
    client, boss, httpserver, django_capture_on_commit_callbacks
):
    hook, url = receiver(httpserver, 200)
    target, secret = endpoint(url)
    event = emit(event_type="review.published", key="k", data={"review": {"title": "T"}})
    first = Delivery.objects.get(event=event)
    deliver(first.pk)
    page = client.get(target.get_absolute_url())
    assert reverse("webhooks:redeliver", args=[first.pk]).encode() in page.content
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("webhooks:redeliver", args=[first.pk]))
    assert answer.status_code == 302

    assert len(hook.received) == 2
    one, two = hook.received
    assert one["body"] == two["body"]  # the same event, id included
    assert [e["id"] for e in hook.events()] == [str(event.id)] * 2
    assert one["headers"]["Seams-Delivery"] != two["headers"]["Seams-Delivery"]
    assert documented_signature(secret, two["headers"]["Seams-Signature"], two["body"])
    assert Delivery.objects.filter(event=event).count() == 2


def test_a_switched_off_endpoint_has_a_banner_and_one_action_switches_it_on(
    client, boss, httpserver, django_capture_on_commit_callbacks
):
    hook, url = receiver(httpserver, 200)
    target, _ = endpoint(url)
    emit(event_type="review.published", key="k", data={"review": {"title": "T"}})
    disable(target, reason="20 failed attempts in a row")
    page = client.get(target.get_absolute_url())
    assert b"This endpoint is switched off" in page.content
    assert b"20 failed attempts in a row" in page.content
    assert hook.received == []

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("webhooks:enable", args=[target.pk]))
    assert answer.status_code == 302
    target.refresh_from_db()
    assert target.is_active
    assert target.consecutive_failures == 0
    assert len(hook.received) == 1  # what waited is sent
    assert b"switched off" not in client.get(target.get_absolute_url()).content


def test_the_log_does_not_name_a_restricted_review_to_an_admin_outside_its_group(
    client, boss, httpserver
):
    security = GroupFactory(name="security")
    _, url = receiver(httpserver, 200)
    target, _ = endpoint(url, scope=[security])
    emit(
        event_type="review.published",
        key="k",
        data={"review": {"title": "Leaked signing key"}},
        restricted_to=security.pk,
    )
    page = client.get(target.get_absolute_url())
    assert b"Leaked signing key" not in page.content
    assert b"A restricted review" in page.content
    boss.groups.add(security)
    assert b"Leaked signing key" in client.get(target.get_absolute_url()).content


def test_deleting_asks_first_then_deletes(client, boss):
    target, _ = endpoint("https://hooks.example.com/")
    assert client.get(reverse("webhooks:delete", args=[target.pk])).status_code == 200
    assert Endpoint.objects.exists()
    assert client.post(reverse("webhooks:delete", args=[target.pk])).status_code == 302
    assert not Endpoint.objects.exists()


def test_rotating_shows_a_new_secret_once(client, boss):
    target, old = endpoint("https://hooks.example.com/")
    answer = client.post(reverse("webhooks:rotate", args=[target.pk]))
    new = re.search(rb'id="webhook-secret">(whsec_[^<]+)<', answer.content).group(1).decode()
    target.refresh_from_db()
    assert new != old
    assert target.secret == new
    assert target.secret_rotated_at


def test_list_and_log_pages_cost_a_fixed_number_of_queries(
    client, boss, httpserver, django_assert_max_num_queries
):
    _, url = receiver(httpserver, 500)
    for n in range(5):
        target, _ = endpoint(f"{url}?n={n}", scope=[GroupFactory(name=f"team{n}")])
    for n in range(20):
        emit(event_type="review.published", key=f"k{n}", data={"review": {"title": f"T{n}"}})
    for delivery in Delivery.objects.filter(endpoint=target):
        deliver(delivery.pk)
    # Session and user (2), the nav's unread count (1), endpoints (1), their scopes (1).
    with django_assert_max_num_queries(8):
        assert client.get(reverse("webhooks:list")).status_code == 200
    # Session, user, unread count, the endpoint, its scope, the user's groups, the count,
    # the deliveries with events, their attempts.
    with django_assert_max_num_queries(12):
        page = client.get(target.get_absolute_url())
    assert page.status_code == 200
    assert page.content.count(b"Redeliver") == 20


def test_unknown_endpoints_and_deliveries_are_404(client, boss):
    assert client.get(reverse("webhooks:detail", args=[999])).status_code == 404
    assert client.post(reverse("webhooks:redeliver", args=[999])).status_code == 404
