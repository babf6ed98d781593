"""Who may link an action item to a tracker, and what bad input answers: the API, the
review page's form, and the admin's write-only secrets."""

from __future__ import annotations

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from trackers.models import TrackedIssue, TrackerConnection

from .actions_helpers import GroupFactory, editor, item, person, review_with, stored
from .conftest import token_client
from .trackers_helpers import FakeGitHub, connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def github(httpserver):
    return FakeGitHub().install(httpserver)


@pytest.fixture
def conn(httpserver, github):
    return connect(httpserver, "github", "acme/api", name="GitHub")


@pytest.fixture
def owner(db):
    return person("owner")


@pytest.fixture
def action(owner):
    return stored(review_with(item("Add a budget", owner_user=owner)), "Add a budget")


def _url(action) -> str:
    return f"/api/v1/action-items/{action.pk}/tracker/"


def test_connections_are_listed_without_their_secrets(conn, owner, django_assert_max_num_queries):
    connect_disabled = TrackerConnection.objects.create(
        name="Old", kind="linear", project="OLD", token="x", enabled=False
    )
    api = token_client(owner, "read")
    with django_assert_max_num_queries(4):
        answer = api.get("/api/v1/tracker-connections/")
    assert answer.status_code == 200
    rows = answer.json()["results"]
    assert rows == [
        {"id": conn.pk, "name": "GitHub", "kind": "github", "project": "acme/api",
         "allow_restricted": False},
    ]  # fmt: skip
    assert "token" not in answer.content.decode()
    assert connect_disabled.pk not in [row["id"] for row in rows]


def test_an_unlinked_item_answers_404(action, owner):
    answer = token_client(owner, "read").get(_url(action))
    assert answer.status_code == 404
    assert "not linked" in answer.json()["error"]["message"]


def test_a_read_token_may_not_ask_for_a_link(conn, action, owner, github):
    answer = token_client(owner, "read").post(
        _url(action), {"connection": conn.pk, "create": True}, format="json"
    )
    assert answer.status_code == 403
    assert github.requests == []


def test_only_owners_and_editors_may_ask(conn, action, github, django_capture_on_commit_callbacks):
    stranger = person("stranger")
    refused = token_client(stranger, "write").post(
        _url(action), {"connection": conn.pk, "create": True}, format="json"
    )
    assert refused.status_code == 403
    assert "owner" in refused.json()["error"]["message"]
    with django_capture_on_commit_callbacks(execute=True):
        allowed = token_client(editor(), "write").post(
            _url(action), {"connection": conn.pk, "create": True}, format="json"
        )
    assert allowed.status_code == 202
    assert TrackedIssue.objects.get().requested_by.username == "editor"


def test_an_item_of_a_review_you_may_not_see_is_not_there(conn, github):
    secret = GroupFactory(name="security")
    hidden = stored(review_with(item("Hidden"), restricted_to=secret), "Hidden")
    outsider = editor("outsider")
    for answer in (
        token_client(outsider, "read").get(_url(hidden)),
        token_client(outsider, "write").post(
            _url(hidden), {"connection": conn.pk, "create": True}, format="json"
        ),
    ):
        assert answer.status_code == 404
        assert "Hidden" not in answer.content.decode()
    assert github.requests == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"create": True}, "connection"),
        ({"connection": 999_999, "create": True}, "connection"),
        ({"connection": "CONN", "create": True}, "connection"),
        ({"CONN": True}, "create"),
        ({"CONN": True, "create": True, "link": "#3"}, "create"),
        ({"CONN": True, "create": False}, "create"),
        ({"CONN": True, "create": True, "colour": "red"}, "colour"),
    ],
)
def test_bad_requests_answer_400_with_the_field(conn, action, owner, github, body, field):
    if body.pop("CONN", None):
        body["connection"] = conn.pk
    if body.get("connection") == "CONN":
        body["connection"] = "not a number"
    answer = token_client(owner, "write").post(_url(action), body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["error"]["fields"]
    assert github.requests == []


def test_a_switched_off_connection_cannot_be_chosen(conn, action, owner):
    conn.enabled = False
    conn.save()
    answer = token_client(owner, "write").post(
        _url(action), {"connection": conn.pk, "create": True}, format="json"
    )
    assert answer.status_code == 400


def test_an_issue_linked_to_one_item_cannot_be_linked_to_another(
    conn, owner, httpserver, github, django_capture_on_commit_callbacks
):
    github.issues[5] = {"id": 1, "number": 5, "state": "open", "html_url": "u", "body": ""}
    review = review_with(item("One", owner_user=owner), item("Two", owner_user=owner))
    api = token_client(owner, "write")
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(
            _url(stored(review, "One")),
            {"connection": conn.pk, "link": "acme/api#5"},
            format="json",
        )
    assert first.status_code == 202
    second = api.post(
        _url(stored(review, "Two")),
        {"connection": conn.pk, "link": "https://github.com/acme/api/issues/5"},
        format="json",
    )
    assert second.status_code == 409
    other_repo = api.post(
        _url(stored(review, "Two")), {"connection": conn.pk, "link": "acme/web#5"}, format="json"
    )
    assert other_repo.status_code == 400
    assert "acme/api" in other_repo.json()["error"]["message"]


def test_the_review_page_form_creates_an_issue_for_the_owner(
    conn, action, owner, github, client, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    page = client.get(action.incident.get_absolute_url()).content.decode()
    assert f'action="/action-items/{action.pk}/tracker/"' in page
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            f"/action-items/{action.pk}/tracker/",
            {"connection": conn.pk, "link": "", "next": action.incident.get_absolute_url()},
        )
    assert answer.status_code == 302
    assert answer["Location"] == action.incident.get_absolute_url()
    assert TrackedIssue.objects.get().key == "#12"
    page = client.get(action.incident.get_absolute_url()).content.decode()
    assert "https://github.com/acme/api/issues/12" in page


def test_the_review_page_offers_no_form_to_readers_who_may_not_close(conn, action, client):
    client.force_login(person("reader"))
    page = client.get(action.incident.get_absolute_url())
    assert page.status_code == 200
    assert "/tracker/" not in page.content.decode()
    refused = client.post(f"/action-items/{action.pk}/tracker/", {"connection": conn.pk})
    assert refused.status_code == 403
    assert not TrackedIssue.objects.exists()


def test_the_admin_never_shows_the_token_and_a_blank_field_keeps_it(conn, client):
    admin = person("root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    url = f"/admin/trackers/trackerconnection/{conn.pk}/change/"
    page = client.get(url).content.decode()
    assert "github-token-secret" not in page
    assert "hook-secret" not in page
    assert f"/trackers/{conn.pk}/webhook/" in page
    answer = client.post(
        url,
        {
            "name": "GitHub",
            "kind": "github",
            "base_url": conn.base_url,
            "project": "acme/api",
            "issue_type": "",
            "username": "",
            "token": "",
            "webhook_secret": "",
            "enabled": "on",
            "acting_user": "",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    conn.refresh_from_db()
    assert conn.token == "github-token-secret"
    assert conn.webhook_secret == "hook-secret"


def test_my_action_items_shows_each_link_and_form_in_a_constant_number_of_queries(
    conn, owner, client
):
    client.force_login(owner)

    def queries(count: int) -> int:
        review = review_with(*[item(f"Task {count}.{n}", owner_user=owner) for n in range(count)])
        TrackedIssue.objects.create(
            action_item=review.action_items.first(),
            connection=conn,
            state="linked",
            key=f"#{count}",
            url=f"https://github.com/acme/api/issues/{count}",
        )
        with CaptureQueriesContext(db) as seen:
            page = client.get("/action-items/")
        html = page.content.decode()
        assert f"https://github.com/acme/api/issues/{count}" in html
        unlinked = owner.owned_action_items.count() - TrackedIssue.objects.count()
        assert html.count("Create or link") == unlinked
        return len(seen)

    assert queries(2) == queries(5)
