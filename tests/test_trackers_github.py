"""GitHub Issues, spoken over real HTTP to a local server: create and link, webhooks in,
polling with ETags, retries, restricted reviews, and the stored credential."""

from __future__ import annotations

import json

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from incidents.models import ActionItem
from trackers import tasks
from trackers.clients import TrackerError
from trackers.models import TrackedIssue
from trackers.services import poll_connection, tracked_issue_create

from .actions_helpers import GroupFactory, item, person, review_with, stored
from .conftest import token_client
from .trackers_helpers import FakeGitHub, connect, signature

pytestmark = pytest.mark.django_db


@pytest.fixture
def github(httpserver):
    return FakeGitHub().install(httpserver)


@pytest.fixture
def setup(httpserver, github):
    """A GitHub connection, an owner and an open action item of a review."""
    conn = connect(httpserver, "github", "acme/api", name="GitHub acme/api")
    owner = person("owner")
    review = review_with(
        item("Add a fallback for the feature file", owner_user=owner),
        summary="Secret internal detail of the outage.",
    )
    return conn, owner, stored(review, "Add a fallback for the feature file")


def _create(api, action, conn, capture):
    with capture(execute=True):
        return api.post(
            f"/api/v1/action-items/{action.pk}/tracker/",
            {"connection": conn.pk, "create": True},
            format="json",
        )


def _link_of(action, reader=None) -> dict:
    """The item's link as the API shows it now (after its job ran)."""
    reader = token_client(reader or person("any-reader"), "read")
    answer = reader.get(f"/api/v1/action-items/{action.pk}/tracker/")
    assert answer.status_code == 200, answer.content
    return answer.json()


def _hook(client, conn, payload, *, secret="hook-secret", event="issues", sign=True):
    body = json.dumps(payload).encode()
    headers = {"HTTP_X_GITHUB_EVENT": event}
    if sign:
        headers["HTTP_X_HUB_SIGNATURE_256"] = "sha256=" + signature(secret, body)
    return client.post(
        f"/trackers/{conn.pk}/webhook/", body, content_type="application/json", **headers
    )


def test_an_issue_is_created_in_github_and_linked(
    setup, github, django_capture_on_commit_callbacks
):
    conn, owner, action = setup
    answer = _create(token_client(owner, "write"), action, conn, django_capture_on_commit_callbacks)
    assert answer.status_code == 202, answer.content
    assert answer.json()["state"] == "creating"  # the job runs after commit
    body = _link_of(action)
    assert body["state"] == "linked"
    assert body["key"] == "#12"
    assert body["url"] == "https://github.com/acme/api/issues/12"
    assert body["connection"]["name"] == "GitHub acme/api"
    issue = github.issues[12]
    assert issue["title"] == "Add a fallback for the feature file"
    assert action.incident.get_absolute_url() in issue["body"]
    assert "Secret internal detail" not in issue["body"]  # the review's text stays in Seams
    assert github.tokens == {"Bearer github-token-secret"}
    link = TrackedIssue.objects.get(action_item=action)
    assert link.remote_state == "open"
    assert link.etag
    # Reading it back.
    again = token_client(owner, "read").get(f"/api/v1/action-items/{action.pk}/tracker/")
    assert again.status_code == 200
    assert again.json()["key"] == "#12"


def test_a_lost_answer_is_retried_without_a_second_issue(
    setup, github, django_capture_on_commit_callbacks
):
    """GitHub created the issue but its answer was lost (502): the retry finds the issue by
    Seams' marker instead of creating another."""
    conn, owner, action = setup
    github.lose_create_answers = 1
    answer = _create(token_client(owner, "write"), action, conn, django_capture_on_commit_callbacks)
    assert answer.status_code == 202
    assert len(github.issues) == 1
    assert [m for m, _ in github.requests].count("POST") == 1
    assert _link_of(action)["state"] == "linked"
    assert _link_of(action)["key"] == "#12"


def test_asking_twice_makes_one_issue(setup, github, django_capture_on_commit_callbacks):
    conn, owner, action = setup
    api = token_client(owner, "write")
    assert _create(api, action, conn, django_capture_on_commit_callbacks).status_code == 202
    second = _create(api, action, conn, django_capture_on_commit_callbacks)
    assert second.status_code == 409
    assert "already linked to #12" in second.json()["error"]["message"]
    assert len(github.issues) == 1


def test_a_job_run_twice_creates_once(setup, github):
    """A redelivered job (acks_late) after the first one finished changes nothing."""
    conn, owner, action = setup
    link = tracked_issue_create(item=action, connection=conn, by=owner)
    assert tasks.push_issue_task.apply(args=[link.pk]).get() == "linked"
    assert tasks.push_issue_task.apply(args=[link.pk]).get() == "skipped"
    assert len(github.issues) == 1


def test_a_failing_tracker_is_retried_then_reported_never_a_500(
    setup, github, client, django_capture_on_commit_callbacks
):
    conn, owner, action = setup
    github.fail_with = 502
    answer = _create(token_client(owner, "write"), action, conn, django_capture_on_commit_callbacks)
    assert answer.status_code == 202
    body = _link_of(action)
    assert body["state"] == "failed"
    assert "502" in body["error"]
    # The first try and every retry asked GitHub (for the marker first, each time).
    assert len(github.requests) == 1 + tasks.MAX_RETRIES
    assert github.issues == {}
    # The review page says so, with a way to try again.
    client.force_login(owner)
    page = client.get(action.incident.get_absolute_url())
    assert page.status_code == 200
    assert "Could not create the issue in GitHub acme/api" in page.content.decode()
    # Once GitHub is back, asking again works, on the same link.
    github.fail_with = None
    again = _create(token_client(owner, "write"), action, conn, django_capture_on_commit_callbacks)
    assert again.status_code == 202
    assert _link_of(action)["state"] == "linked"
    assert TrackedIssue.objects.count() == 1


def test_an_error_no_retry_helps_is_reported_at_once(
    setup, github, django_capture_on_commit_callbacks
):
    conn, owner, action = setup
    github.fail_with = 401
    answer = _create(token_client(owner, "write"), action, conn, django_capture_on_commit_callbacks)
    assert answer.status_code == 202
    assert _link_of(action)["state"] == "failed"
    assert len(github.requests) == 1


def test_a_lost_job_is_caught_up_by_the_sweep(setup, github):
    conn, owner, action = setup
    # Asked for, but its job never ran (the broker was down): no on-commit callback here.
    link = tracked_issue_create(item=action, connection=conn, by=owner)
    assert tasks.sweep(grace_seconds=3600) == 0  # still within its grace period
    assert tasks.sweep(grace_seconds=0) == 1
    link.refresh_from_db()
    assert link.state == "linked"
    assert link.key == "#12"
    assert tasks.sweep(grace_seconds=0) == 0


def _linked(setup, github, capture):
    conn, owner, action = setup
    _create(token_client(owner, "write"), action, conn, capture)
    return conn, owner, action, TrackedIssue.objects.get(action_item=action)


def test_closed_in_github_closes_the_item_through_a_signed_webhook(
    setup, github, client, django_capture_on_commit_callbacks
):
    conn, _, action, _ = _linked(setup, github, django_capture_on_commit_callbacks)
    answer = _hook(client, conn, github.event("closed", github.close(12)))
    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "result": "applied", "issue": "#12", "action_item": action.pk, "status": "done",
    }  # fmt: skip
    action.refresh_from_db()
    assert action.status == ActionItem.Status.DONE
    assert action.completed_at is not None
    # Recorded like any other close: by the connection's own account, as a new version.
    assert action.closed_by.username == f"github-tracker-{conn.pk}"
    assert not action.closed_by.is_active
    assert not action.closed_by.has_usable_password()
    revision = action.incident.revisions.latest("version")
    assert revision.created_by == action.closed_by
    assert "marked done" in revision.note
    link = TrackedIssue.objects.get(action_item=action)
    assert (link.remote_status, link.remote_actor) == ("closed (completed)", "octocat")
    # The same event again (GitHub redelivers) changes nothing.
    versions = action.incident.revisions.count()
    assert _hook(client, conn, github.event("closed", github.issues[12])).status_code == 200
    assert action.incident.revisions.count() == versions


def test_reopened_in_github_reopens_the_item(
    setup, github, client, django_capture_on_commit_callbacks
):
    conn, _, action, _ = _linked(setup, github, django_capture_on_commit_callbacks)
    _hook(client, conn, github.event("closed", github.close(12)))
    assert _hook(client, conn, github.event("reopened", github.reopen(12))).status_code == 200
    action.refresh_from_db()
    assert action.status == ActionItem.Status.OPEN
    assert action.closed_by is None


def test_closed_as_not_planned_is_wont_do(
    setup, github, client, django_capture_on_commit_callbacks
):
    conn, _, action, _ = _linked(setup, github, django_capture_on_commit_callbacks)
    _hook(client, conn, github.event("closed", github.close(12, "not_planned")))
    action.refresh_from_db()
    assert action.status == ActionItem.Status.WONT_DO


def test_an_older_event_arriving_late_changes_nothing(
    setup, github, client, django_capture_on_commit_callbacks
):
    conn, _, action, _ = _linked(setup, github, django_capture_on_commit_callbacks)
    reopened_early = dict(github.issues[12], state="open", updated_at="2020-01-01T00:00:00Z")
    _hook(client, conn, github.event("closed", github.close(12)))
    _hook(client, conn, github.event("reopened", reopened_early))
    action.refresh_from_db()
    assert action.status == ActionItem.Status.DONE


@pytest.mark.parametrize(
    ("secret", "sign", "status"),
    [("not-the-secret", True, 403), ("hook-secret", False, 401)],
)
def test_a_wrongly_signed_or_unsigned_webhook_is_refused(
    setup, github, client, django_capture_on_commit_callbacks, secret, sign, status
):
    conn, _, action, _ = _linked(setup, github, django_capture_on_commit_callbacks)
    answer = _hook(client, conn, github.event("closed", github.close(12)), secret=secret, sign=sign)
    assert answer.status_code == status
    assert answer.json()["error"]["status"] == status
    action.refresh_from_db()
    assert action.status == ActionItem.Status.OPEN


def test_a_signature_header_that_is_not_hex_is_refused_not_a_500(
    setup, github, client, django_capture_on_commit_callbacks
):
    conn, _, action, _ = _linked(setup, github, django_capture_on_commit_callbacks)
    for given in ("sha256=zzzé", "sha256=", "md5=abc", "é" * 80):
        answer = client.post(
            f"/trackers/{conn.pk}/webhook/",
            b"{}",
            content_type="application/json",
            HTTP_X_GITHUB_EVENT="issues",
            HTTP_X_HUB_SIGNATURE_256=given,
        )
        assert answer.status_code == 403, given
    action.refresh_from_db()
    assert action.status == ActionItem.Status.OPEN


def test_a_webhook_signed_over_another_body_is_refused(
    setup, github, client, django_capture_on_commit_callbacks
):
    conn, _, _action, _ = _linked(setup, github, django_capture_on_commit_callbacks)
    payload = github.event("closed", github.close(12))
    good = "sha256=" + signature("hook-secret", b"{}")
    answer = client.post(
        f"/trackers/{conn.pk}/webhook/",
        json.dumps(payload),
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="issues",
        HTTP_X_HUB_SIGNATURE_256=good,
    )
    assert answer.status_code == 403


def test_other_events_and_unlinked_issues_are_acknowledged_and_ignored(
    setup, github, client, django_capture_on_commit_callbacks
):
    conn, _, _action, _ = _linked(setup, github, django_capture_on_commit_callbacks)
    ping = _hook(client, conn, {"zen": "Keep it simple."}, event="ping")
    assert ping.status_code == 202
    other = dict(github.issues[12], number=99)
    assert _hook(client, conn, github.event("closed", other)).json()["result"] == "ignored"
    bad = client.post(
        f"/trackers/{conn.pk}/webhook/",
        b"not json",
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="issues",
        HTTP_X_HUB_SIGNATURE_256="sha256=" + signature("hook-secret", b"not json"),
    )
    assert bad.status_code == 400
    missing = client.post("/trackers/999999/webhook/", b"{}", content_type="application/json")
    assert missing.status_code == 404


def test_polling_with_an_etag_gets_304_and_changes_nothing_then_a_close_closes(
    setup, github, django_capture_on_commit_callbacks
):
    conn, _, action, link = _linked(setup, github, django_capture_on_commit_callbacks)
    etag = link.etag
    github.requests.clear()
    polled = poll_connection(conn.pk)
    assert (polled.checked, polled.unchanged, polled.changed) == (1, 1, 0)
    assert github.requests == [("GET", "/repos/acme/api/issues/12")]
    link.refresh_from_db()
    action.refresh_from_db()
    assert link.etag == etag
    assert link.remote_state == "open"
    assert action.status == ActionItem.Status.OPEN
    versions = action.incident.revisions.count()
    assert action.incident.revisions.count() == versions

    github.close(12)  # a new ETag
    assert tasks.poll_connection_task.apply(args=[conn.pk]).get()["changed"] == 1
    action.refresh_from_db()
    link.refresh_from_db()
    assert action.status == ActionItem.Status.DONE
    assert link.etag != etag
    assert link.remote_state == "done"


def test_the_beat_job_polls_every_enabled_connection(
    setup, github, django_capture_on_commit_callbacks
):
    _conn, _, action, _ = _linked(setup, github, django_capture_on_commit_callbacks)
    github.close(12)
    assert tasks.poll_task.apply().get() == 1
    action.refresh_from_db()
    assert action.status == ActionItem.Status.DONE


def test_a_change_made_in_seams_holds_until_the_tracker_changes(
    setup, github, django_capture_on_commit_callbacks
):
    """Seams follows the tracker's changes, not its state: an item closed in Seams whose
    issue stays open is not reopened by the next poll."""
    from incidents.services import action_item_set_status

    conn, owner, action, _ = _linked(setup, github, django_capture_on_commit_callbacks)
    action_item_set_status(item=action, by=owner, status="done")
    github.issues[12]["title"] = "Edited"  # a new ETag, the same open state
    poll_connection(conn.pk)
    action.refresh_from_db()
    assert action.status == ActionItem.Status.DONE
    assert action.closed_by == owner


def test_restricted_reviews_are_sent_only_to_connections_allowed_for_them(
    httpserver, github, django_capture_on_commit_callbacks
):
    security = GroupFactory(name="security")
    owner = person("owner")
    owner.groups.add(security)
    review = review_with(item("Rotate the keys", owner_user=owner), restricted_to=security)
    action = stored(review, "Rotate the keys")
    plain = connect(httpserver, "github", "acme/api", name="Public")
    allowed = connect(httpserver, "github", "acme/api", name="Security", allow_restricted=True)
    api = token_client(owner, "write")
    refused = _create(api, action, plain, django_capture_on_commit_callbacks)
    assert refused.status_code == 403
    assert "restricted" in refused.json()["error"]["message"]
    assert github.requests == []  # nothing left Seams
    assert not TrackedIssue.objects.exists()
    accepted = _create(api, action, allowed, django_capture_on_commit_callbacks)
    assert accepted.status_code == 202
    assert _link_of(action, owner)["state"] == "linked"


def test_the_stored_token_and_secret_are_not_readable_in_the_database_row(setup):
    conn, _, _ = setup
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT token, webhook_secret FROM trackers_trackerconnection WHERE id = %s",
            [conn.pk],
        )
        token, secret = cursor.fetchone()
    assert "github-token-secret" not in token
    assert "hook-secret" not in secret
    assert token
    assert secret
    conn.refresh_from_db()
    assert conn.token == "github-token-secret"


def test_the_review_page_shows_links_and_forms_in_a_constant_number_of_queries(
    httpserver, github, client
):
    owner = person("owner")
    conn = connect(httpserver, "github", "acme/api", name="GitHub acme/api")
    client.force_login(owner)

    def queries(count: int) -> int:
        review = review_with(
            *[item(f"Item {n}", owner_user=owner) for n in range(count)], title=f"R{count}"
        )
        TrackedIssue.objects.create(
            action_item=review.action_items.first(),
            connection=conn,
            state="linked",
            key="#5",
            url="https://github.com/acme/api/issues/5",
            remote_status="open",
        )
        with CaptureQueriesContext(db) as seen:
            page = client.get(review.get_absolute_url())
        assert page.status_code == 200
        html = page.content.decode()
        assert ">#5<" in html
        assert "Create or link" in html
        return len(seen)

    assert queries(2) == queries(6)


def test_a_review_restricted_after_the_request_sends_nothing(setup, github):
    """The job checks again: a review restricted since the issue was asked for is not sent
    to a connection that is not allowed for restricted reviews."""
    from incidents.models import Incident

    conn, owner, action = setup
    link = tracked_issue_create(item=action, connection=conn, by=owner)
    Incident.objects.filter(pk=action.incident_id).update(restricted_to=GroupFactory())
    assert tasks.push_issue_task.apply(args=[link.pk]).get() == "failed"
    link.refresh_from_db()
    assert link.state == "failed"
    assert "restricted" in link.last_error
    assert github.requests == []


def test_a_lost_encryption_key_leaves_the_pages_working_and_the_failure_said(
    setup, github, settings, client, django_capture_on_commit_callbacks
):
    conn, owner, action = setup
    _create(token_client(owner, "write"), action, conn, django_capture_on_commit_callbacks)
    settings.SECRET_KEY = "another-secret-key-" * 4  # the key the secrets were written with is gone
    client.force_login(owner)
    assert client.get(action.incident.get_absolute_url()).status_code == 200
    assert client.get("/action-items/").status_code == 200
    assert _link_of(action, owner)["state"] == "linked"
    # A signed webhook cannot be checked without the secret: refused, not a server error.
    payload = {"action": "closed", "issue": {"number": 12, "state": "closed"}}
    assert _hook(client, conn, payload).status_code in (401, 403, 503)
    action.refresh_from_db()
    assert action.status != ActionItem.Status.DONE


def test_a_token_no_key_can_read_is_not_sent_and_the_failure_says_why(
    setup, github, settings, django_capture_on_commit_callbacks
):
    conn, owner, action = setup
    settings.SECRET_KEY = "another-secret-key-" * 4  # the key the token was written with is gone
    answer = _create(token_client(owner, "write"), action, conn, django_capture_on_commit_callbacks)
    assert answer.status_code == 202
    body = _link_of(action)
    assert body["state"] == "failed"
    assert "no configured encryption key can read" in body["error"]
    assert "enter the token again" in body["error"]
    # Nothing went to GitHub: no request with an empty credential, no retries.
    assert github.requests == []


def test_a_poll_with_a_token_no_key_can_read_asks_nothing_and_says_why(
    setup, github, settings, django_capture_on_commit_callbacks
):
    conn, owner, action = setup
    _create(token_client(owner, "write"), action, conn, django_capture_on_commit_callbacks)
    assert _link_of(action)["state"] == "linked"
    asked = len(github.requests)
    settings.SECRET_KEY = "another-secret-key-" * 4
    with pytest.raises(TrackerError, match="no configured encryption key can read") as raised:
        poll_connection(conn.pk)
    assert raised.value.transient is False  # no retry brings a key back
    assert len(github.requests) == asked


def test_the_person_who_asked_is_told_once_per_request_when_the_link_fails(
    setup, github, django_capture_on_commit_callbacks
):
    from notifications.models import Notification
    from trackers.services import push_failed

    conn, owner, action = setup
    github.fail_with = 401
    api = token_client(owner, "write")
    _create(api, action, conn, django_capture_on_commit_callbacks)
    told = Notification.objects.filter(recipient=owner, kind="tracker_link_failed")
    assert told.count() == 1
    notice = told.get()
    assert "Could not create the issue in GitHub acme/api" in notice.text
    assert "Add a fallback for the feature file" in notice.text
    assert "401" in notice.text
    assert notice.url == f"{action.incident.get_absolute_url()}#actions-heading"
    # The same failure recorded again (a job delivered twice) tells nobody again…
    push_failed(TrackedIssue.objects.get().pk, "GitHub answered 401")
    assert told.count() == 1
    # …but asking again and failing again does.
    _create(api, action, conn, django_capture_on_commit_callbacks)
    assert told.count() == 2
    # Nobody else hears of it, and a success tells nobody.
    assert Notification.objects.exclude(recipient=owner).count() == 0
    github.fail_with = None
    _create(api, action, conn, django_capture_on_commit_callbacks)
    assert _link_of(action)["state"] == "linked"
    assert told.count() == 2
