"""The leak matrix: one restricted review, every page, endpoint, export, count and admin view.

The review carries the marker word "quokka" in every text field, in a component of its own
and in an action item. An outsider (session, read token, staff in the admin) must never see
the marker, and no count may include the review; a member of its group sees it through the
same requests, so the matrix cannot pass by showing nothing. The routes come from the URL
conf: a new route fails `test_every_route_is_in_the_matrix` until it is placed here.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from pypdf import PdfReader

from duplicates.models import PossibleDuplicate
from incidents import services
from incidents.analysis.recurrence import recompute_all
from incidents.models import Incident, RecurringStructure
from notifications.models import Notification
from reports.models import Report
from reports.services import report_generate
from taxonomy.models import EmergentShape, StructuralPattern

from .conftest import token_client
from .factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

MARK = "quokka"
SINCE = datetime(2025, 1, 1, tzinfo=UTC)
UNTIL = datetime(2025, 7, 1, tzinfo=UTC)


def _review(by, title, day, words="", **fields):
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    pattern = StructuralPattern.objects.get(slug="alert-fatigue")
    return services.incident_create(
        by=by,
        content=services.ReviewContent(
            fields={"title": title, "started_at": start,
                    "resolved_at": start + timedelta(hours=2), **fields},
            shapes=list(EmergentShape.objects.filter(slug="cascade")),
            components=["Edge proxy", *([f"{words.capitalize()}ledger"] if words else [])],
            timeline=[services.TimelineEntry(start, "trigger", f"Started {words}",
                                             f"Looked right {words}")],
            factors=[f"Factor {words}"],
            # Owned by the author and overdue: it shows on their action-item lists.
            actions=[services.ActionEntry(f"Rotate the {words or 'edge'} keys",
                                          kind="structural_fix", owner_user=by,
                                          due=start.date())],
            patterns=[services.PatternClaim(pattern, f"Rationale {words}")],
        ),
    )  # fmt: skip


def _reviewed_next_day() -> None:
    """Each review written the day after its incident began (the service writes them now),
    and everything analysed again: a structure recurs only after an earlier review existed."""
    for pk, start in Incident.objects.values_list("pk", "started_at"):
        Incident.objects.filter(pk=pk).update(created_at=start + timedelta(days=1))
    recompute_all()


def _term() -> str:
    """Words the catalogue knows for alert fatigue, so similarity has something to go on."""
    return StructuralPattern.objects.get(slug="alert-fatigue").entry["match_terms"][0]


@dataclass
class World:
    secret: Incident
    public: Incident
    structure: RecurringStructure
    member: object
    outsider: object
    member_report: Report
    outsider_report: Report


@pytest.fixture
def world(django_capture_on_commit_callbacks) -> World:
    group = GroupFactory(name="security")
    member, outsider = UserFactory(username="member"), UserFactory(username="outsider")
    member.groups.add(group)
    with django_capture_on_commit_callbacks(execute=True):
        public = _review(outsider, "Pager storm at the edge", "2025-02-01",
                         users_affected="100 users", users_affected_count=100)  # fmt: skip
        secret = _review(
            member, f"{MARK}title breach", "2025-03-01", words=MARK,
            summary=f"{MARK}summary: {_term()} hid the zeppelin alarm", impact=f"{MARK}impact",
            narrative=f"{MARK}narrative",
            went_well=f"{MARK}wentwell", where_lucky=f"{MARK}lucky",
            users_affected="4242 users", users_affected_count=4242, restricted_to=group,
            external_id=f"{MARK}-1",
        )  # fmt: skip
        # A second version, so history and diff have something to show.
        services.incident_patch(incident=secret, by=member, fields={"summary": f"{MARK}v2"})
    _reviewed_next_day()
    services.comment_add(incident=secret, by=member, body=f"{MARK}comment")
    # A possible duplicate pairing the open review with the restricted one.
    PossibleDuplicate.objects.create(
        first=public, second=secret, similarity=0.9, reasons=[f"text similarity 0.90 {MARK}"]
    )
    structure = RecurringStructure.objects.get(signature="pattern:alert-fatigue")
    params = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    reports = [
        report_generate(report_id=Report.objects.create(created_by=who, params=params).pk)
        for who in (member, outsider)
    ]
    return World(secret, public, structure, member, outsider, *reports)


# --- the routes ---------------------------------------------------------------------------

# Routes that read nothing of a review (and why they cannot leak one).
NOT_ABOUT_REVIEWS = {
    "login", "logout", "healthz", "readyz",
    "schema", "api-docs",  # the OpenAPI document: no data
    "api:api-root", "api:leverage-level-list", "api:leverage-level-detail",
    "taxonomy:leverage",  # the catalogue's leverage levels
    # Marks the caller's own notifications read: reads and answers nothing of a review.
    "notifications:mark_all_read", "api:notification-read-all",
    # Defining review templates (403 but for template managers): no review's text, and the
    # counts of reviews written from a template are of the reader's visible ones (tested in
    # tests/test_review_templates_pages.py).
    "review_templates:list", "review_templates:create", "review_templates:edit",
    "review_templates:delete",
    # People, roles, teams and invitations (403 but for admins; invitations and single
    # sign-on for anyone): accounts and group names only, never a review or a count of
    # reviews (tested in tests/test_people_*.py).
    "people:list", "people:detail", "people:role", "people:deactivate", "people:reactivate",
    "people:teams", "people:team", "people:team_remove", "people:invite", "people:accept",
    "people:sso_start", "people:sso_callback",
    "api:person-list", "api:person-detail", "api:person-me",
    # Slack's request URLs: refused (401, 503 unconfigured) without Slack's signature, so no
    # session or token reaches them; what a signed request answers is checked against the
    # same kind of restricted review in tests/test_chat_slack.py (never answered to an
    # unlinked or outside Slack user, never unfurled).
    "chat:slack-commands", "chat:slack-events", "chat:slack-interactivity",
    # Tracker connections (names, kinds, projects: no review), and the trackers' webhooks:
    # refused (401/403) without the tracker's signature, and a signed one answers only an
    # issue key and an item id (tests/test_trackers_*.py).
    "api:tracker-connection-list", "trackers:webhook",
    # Outgoing webhooks (403 but for admins and staff): endpoints and their delivery log. The
    # log names a restricted review only to an admin who may see it, and an event about one
    # reaches only endpoints scoped to its team (tests/test_webhooks_*.py, with a restricted
    # review and an admin outside its group).
    "webhooks:list", "webhooks:create", "webhooks:detail", "webhooks:edit",
    "webhooks:delete", "webhooks:ping", "webhooks:rotate", "webhooks:enable",
    "webhooks:disable", "webhooks:redeliver",
    "api:webhook-endpoint-list", "api:webhook-endpoint-detail",
    "api:webhook-endpoint-rotate-secret", "api:webhook-endpoint-ping",
    "api:webhook-delivery-list", "api:webhook-delivery-detail", "api:webhook-delivery-redeliver",
}  # fmt: skip


def _template(w: World) -> int:
    from review_templates.models import ReviewTemplate

    return ReviewTemplate.objects.get_or_create(name="Leak matrix")[0].pk


def _pair(w: World) -> int:
    return PossibleDuplicate.objects.get(second=w.secret).pk


def pages(w: World) -> dict[str, list[tuple[str, bool]]]:
    """GET requests per route name: (url, whether a member sees the marker there)."""
    x, s, d = w.secret.pk, w.structure.pk, _pair(w)
    return {
        "incidents:list": [("/", True), ("/?q=breach", True)],
        "incidents:create": [("/incidents/new/", False)],
        "incidents:detail": [(f"/incidents/{x}/", True)],
        "incidents:edit": [(f"/incidents/{x}/edit/", True)],
        "incidents:history": [(f"/incidents/{x}/history/", True)],
        "incidents:diff": [(f"/incidents/{x}/diff/", True)],
        "incidents:request_review": [(f"/incidents/{x}/request-review/", True)],
        "exports:markdown": [(f"/incidents/{x}/export.md", True)],
        "exports:pdf": [(f"/incidents/{x}/export.pdf", True)],
        "timeline_import:upload": [(f"/incidents/{x}/timeline/import/", True)],
        "incidents:recurrences": [("/recurrences/", True),
                                  (f"/recurrences/?component={MARK}ledger", True),
                                  ("/recurrences/?severity=sev3&window=all", True)],
        "incidents:structure": [(f"/recurrences/{s}/", True)],
        "reports:list": [("/reports/", False)],
        "reports:detail": [
            (w.member_report.get_absolute_url(), True),
            (w.outsider_report.get_absolute_url(), False),
        ],
        "reports:export": [
            (reverse("reports:export", args=[report.pk, fmt]), report is w.member_report)
            for report in (w.member_report, w.outsider_report)
            for fmt in ("md", "json", "zip")
        ],
        # The incidents behind a figure: the member's report lists the restricted review.
        "reports:figure": [
            (reverse("reports:figure", args=[report.pk, figure]), report is w.member_report)
            for report in (w.member_report, w.outsider_report)
            for figure in ("incidents", "weighted_hours", "severity_sev3")
        ],
        "taxonomy:patterns": [("/patterns/", False)],
        "incidents:pattern": [("/patterns/alert-fatigue/", True)],
        "incidents:shape": [("/shapes/cascade/", False)],
        "taxonomy:perrow": [("/perrow/", False)],
        "api:incident-list": [
            ("/api/v1/incidents/", True),
            ("/api/v1/incidents/?q=breach", True),
            (f"/api/v1/incidents/?component={MARK}ledger", True),
            ("/api/v1/incidents/?pattern=alert-fatigue", True),
        ],
        "api:incident-detail": [(f"/api/v1/incidents/{x}/", True)],
        "api:incident-similar": [
            (f"/api/v1/incidents/{x}/similar/", True),
            (f"/api/v1/incidents/{w.public.pk}/similar/", True),
        ],
        "api:incident-export": [(f"/api/v1/incidents/{x}/export/?format={f}", True)
                                for f in ("md", "pdf")],
        "api:component-list": [
            ("/api/v1/components/", True),
            ("/api/v1/components/?q=ledger", True),
        ],
        "api:component-detail": [(f"/api/v1/components/{MARK}ledger/", True),
                                 ("/api/v1/components/edge-proxy/", False)],
        "api:recurrence-list": [("/api/v1/recurrences/", True)],
        "api:recurrence-detail": [(f"/api/v1/recurrences/{s}/", True)],
        "api:report-list": [("/api/v1/reports/", False)],
        "api:report-detail": [
            (f"/api/v1/reports/{w.member_report.pk}/", True),
            (f"/api/v1/reports/{w.outsider_report.pk}/", False),
        ],
        "api:pattern-list": [("/api/v1/patterns/", False)],
        "api:pattern-detail": [("/api/v1/patterns/alert-fatigue/", False)],
        "api:shape-list": [("/api/v1/shapes/", False)],
        "api:shape-detail": [("/api/v1/shapes/cascade/", False)],
        "api:duplicate-list": [("/api/v1/duplicates/", True),
                               ("/api/v1/duplicates/?status=open", True)],
        "api:duplicate-detail": [(f"/api/v1/duplicates/{d}/", True)],
        # Templates say what a review must contain, never what one does.
        "api:review-template-list": [("/api/v1/templates/", False)],
        "api:review-template-detail": [(f"/api/v1/templates/{_template(w)}/", False)],
        # The inbox lists only the reader's own notifications (none in this world; see
        # tests/test_notifications_restricted.py for the member's and the outsider's).
        "notifications:inbox": [("/inbox/", False)],
        "api:notification-list": [("/api/v1/notifications/", False)],
        "api:incident-review": [(f"/api/v1/incidents/{x}/review/", False)],
        "api:incident-threads": [(f"/api/v1/incidents/{x}/threads/", True)],
        **_action_item_pages(w),
    }  # fmt: skip


def _action_item_pages(w: World) -> dict[str, list[tuple[str, bool]]]:
    """The action-item lists: the restricted review's item is the member's, and overdue."""
    s, a = w.structure.pk, w.secret.action_items.get().pk
    return {
        "actions:mine": [("/action-items/", True), (f"/action-items/?structure={s}", True)],
        "actions:overdue": [("/action-items/overdue/", True),
                            ("/action-items/overdue/?mine=true", True),
                            (f"/action-items/overdue/?structure={s}", True)],
        "api:action-item-list": [("/api/v1/action-items/", True),
                                 ("/api/v1/action-items/?overdue=true", True),
                                 (f"/api/v1/action-items/?structure={s}", True)],
        "api:action-item-detail": [(f"/api/v1/action-items/{a}/", True)],
    }  # fmt: skip


def writes(w: World) -> dict[str, list[tuple[str, str, dict]]]:
    """Requests that change or ask about one review: an outsider gets nothing back but 404."""
    x, d = w.secret.pk, _pair(w)
    return {
        "incidents:comment": [("post", f"/incidents/{x}/comments/", {"body": "hi"})],
        "incidents:decide": [("post", f"/incidents/{x}/suggestions/",
                              {"decision": "rejected", "pattern": "alert-fatigue"})],
        "incidents:publish": [("post", f"/incidents/{x}/publish/", {})],
        "incidents:restore": [("post", f"/incidents/{x}/restore/1/", {})],
        "incidents:request_review": [("post", f"/incidents/{x}/request-review/", {})],
        "incidents:edit": [("post", f"/incidents/{x}/edit/", {})],
        "api:incident-detail": [("patch", f"/api/v1/incidents/{x}/", {"title": "mine"})],
        "api:incident-timeline": [("post", f"/api/v1/incidents/{x}/timeline/", {"events": []})],
        "api:incident-action-items": [
            ("post", f"/api/v1/incidents/{x}/action-items/", {"action_items": []})
        ],
        "timeline_import:confirm": [("post", f"/incidents/{x}/timeline/import/confirm/", {})],
        "api:incident-timeline-import": [
            ("post", f"/api/v1/incidents/{x}/timeline/import/",
             {"transcript": "[2025-03-01 10:00] a: alert", "select": "all"})
        ],
        "duplicates:merge": [("post", f"/duplicates/{d}/merge/", {"keep": x})],
        "duplicates:dismiss": [("post", f"/duplicates/{d}/dismiss/", {})],
        "api:duplicate-merge": [("post", f"/api/v1/duplicates/{d}/merge/", {"keep": x})],
        "api:duplicate-dismiss": [("post", f"/api/v1/duplicates/{d}/dismiss/", {})],
        **_review_workflow_writes(w),
        "actions:close": [("post", f"/action-items/{w.secret.action_items.get().pk}/close/", {})],
        "api:action-item-close": [
            ("post", f"/api/v1/action-items/{w.secret.action_items.get().pk}/close/", {})
        ],
        "trackers:request": [
            ("post", f"/action-items/{w.secret.action_items.get().pk}/tracker/", {})
        ],
        "api:action-item-tracker": [
            ("post", f"/api/v1/action-items/{w.secret.action_items.get().pk}/tracker/", {})
        ],
    }  # fmt: skip


def _review_workflow_writes(w: World) -> dict[str, list[tuple[str, str, dict]]]:
    """Decisions, threads and the member's notifications about the restricted review."""
    x, t = w.secret.pk, w.secret.comments.get(parent=None).pk
    note, _ = Notification.objects.get_or_create(
        recipient=w.member, kind="comment", incident=w.secret, text=f"{MARK} comment"
    )
    return {
        "reviewflow:approve": [("post", f"/incidents/{x}/approve/", {})],
        "reviewflow:request_changes": [("post", f"/incidents/{x}/request-changes/",
                                        {"note": "no"})],
        "reviewflow:thread_start": [("post", f"/incidents/{x}/threads/", {"body": "hi"})],
        "reviewflow:thread_reply": [("post", f"/incidents/{x}/threads/{t}/reply/",
                                     {"body": "hi"})],
        "reviewflow:thread_resolve": [("post", f"/incidents/{x}/threads/{t}/resolve/", {})],
        "reviewflow:thread_reopen": [("post", f"/incidents/{x}/threads/{t}/reopen/", {})],
        "api:incident-request-review": [("post", f"/api/v1/incidents/{x}/request-review/",
                                         {"reviewers": [w.member.get_username()]})],
        "api:incident-approve": [("post", f"/api/v1/incidents/{x}/approve/", {})],
        "api:incident-request-changes": [("post", f"/api/v1/incidents/{x}/request-changes/",
                                          {"note": "no"})],
        "api:incident-publish": [("post", f"/api/v1/incidents/{x}/publish/", {})],
        "api:incident-threads": [("post", f"/api/v1/incidents/{x}/threads/", {"body": "hi"})],
        "api:thread-replies": [("post", f"/api/v1/incidents/{x}/threads/{t}/replies/",
                                {"body": "hi"})],
        "api:thread-resolve": [("post", f"/api/v1/incidents/{x}/threads/{t}/resolve/", {})],
        "api:thread-reopen": [("post", f"/api/v1/incidents/{x}/threads/{t}/reopen/", {})],
        "notifications:mark_read": [("post", f"/inbox/{note.pk}/read/", {})],
        "api:notification-read": [("post", f"/api/v1/notifications/{note.pk}/read/", {})],
    }  # fmt: skip


# Questions sent by POST that search every review: the outsider's answer must hold no marker.
QUESTIONS = {
    "incidents:assist": ("/write/assist/", {"sections": {"summary": "zeppelin hangar flooded"}}),
    "incidents:preview": ("/write/preview/", {"text": "nothing to find"}),
    "api:similar": ("/api/v1/similar/", {"text": "zeppelin alarm"}),
}


def route_names() -> set[str]:
    """Every named route outside the admin (the admin has its own part of the matrix)."""

    def walk(patterns, namespace):
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.namespace != "admin":
                    yield from walk(p.url_patterns, p.namespace or namespace)
            elif isinstance(p, URLPattern) and p.name:
                yield f"{namespace}:{p.name}" if namespace else p.name

    return set(walk(get_resolver().url_patterns, None))


def test_every_route_is_in_the_matrix(world):
    covered = set(pages(world)) | set(writes(world)) | set(QUESTIONS) | NOT_ABOUT_REVIEWS
    assert route_names() - covered == set(), "add the new route to the leak matrix"


# --- reading ------------------------------------------------------------------------------


def _text(response) -> str:
    if response.get("Content-Type", "").startswith("application/zip"):
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        return "".join(archive.read(name).decode() for name in archive.namelist())
    if response.get("Content-Type", "").startswith("application/pdf"):
        pages = PdfReader(io.BytesIO(response.content)).pages
        return "".join(page.extract_text() for page in pages)
    return response.content.decode(errors="replace")


def _get(client, url):
    return client.get(url, HTTP_ACCEPT="application/json" if "/api/" in url else "text/html")


def _clients(w: World, client) -> dict[str, object]:
    client.force_login(w.outsider)
    return {"session": client, "read token": token_client(w.outsider, "read")}


def test_an_outsider_sees_nothing_of_the_restricted_review(world, client):
    for how, outsider in _clients(world, client).items():
        for name, urls in pages(world).items():
            for url, _ in urls:
                if how == "read token" and "/api/" not in url:
                    continue
                response = _get(outsider, url)
                assert response.status_code in (200, 404), (how, url, response.status_code)
                assert MARK not in _text(response).lower(), (how, name, url)


def test_a_member_sees_it_through_the_same_requests(world, client):
    client.force_login(world.member)
    api = token_client(world.member, "read")
    for name, urls in pages(world).items():
        for url, shows in urls:
            response = _get(api if "/api/" in url else client, url)
            assert response.status_code == 200, (name, url, response.status_code)
            if shows:
                assert MARK in _text(response).lower(), (name, url)


def test_questions_never_answer_with_the_restricted_review(world, client):
    client.force_login(world.outsider)
    api = token_client(world.outsider, "read")
    member_api = token_client(world.member, "read")
    for name, (url, body) in QUESTIONS.items():
        asker = api if "/api/" in url else client
        response = (
            asker.post(url, body, format="json")
            if asker is api
            else asker.post(url, body, content_type="application/json")
        )
        assert response.status_code == 200, (name, response.status_code)
        assert MARK not in response.content.decode().lower(), name
    question = {"text": f"{_term()} hid the zeppelin alarm"}
    answer = member_api.post("/api/v1/similar/", question, format="json")
    assert MARK not in api.post("/api/v1/similar/", question, format="json").content.decode()
    assert MARK in answer.content.decode().lower()


def test_writes_by_an_outsider_find_nothing_and_change_nothing(world, client):
    client.force_login(world.outsider)
    api = token_client(world.outsider, "write")
    version = Incident.objects.get(pk=world.secret.pk).version
    for name, requests in writes(world).items():
        for method, url, data in requests:
            if "/api/" in url:
                response = getattr(api, method)(url, data, format="json")
            else:
                response = getattr(client, method)(url, data)
            assert response.status_code == 404, (name, url, response.status_code)
            assert MARK not in response.content.decode().lower()
    world.secret.refresh_from_db()
    assert world.secret.version == version


# --- counting -----------------------------------------------------------------------------


def test_no_count_includes_the_restricted_review(world, client):
    outsider, member = (token_client(u, "read") for u in (world.outsider, world.member))
    for api, incidents in ((outsider, 1), (member, 2)):
        assert len(api.get("/api/v1/incidents/").json()["results"]) == incidents
        edge = api.get("/api/v1/components/edge-proxy/").json()
        assert edge["incidents"] == incidents
    mine = outsider.get(f"/api/v1/reports/{world.outsider_report.pk}/").json()["snapshot"]
    assert mine["headline"]["incidents"] == 1
    assert mine["headline"]["users_affected"] == 100  # not 100 + 4242
    assert mine["headline"]["weighted_hours"] == 2.0
    assert all(h["incidents"] < 2 for h in mine["hotspots"])
    theirs = member.get(f"/api/v1/reports/{world.member_report.pk}/").json()["snapshot"]
    assert theirs["headline"]["incidents"] == 2
    assert theirs["headline"]["users_affected"] == 4342


# --- the admin ----------------------------------------------------------------------------


def _staff(user):
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=[
        "incidents", "taxonomy"]))  # fmt: skip
    return user


def admin_pages(w: World) -> list[tuple[str, bool]]:
    x, s = w.secret.pk, w.structure.pk
    shape = EmergentShape.objects.get(slug="cascade").pk
    return [
        ("/admin/incidents/incident/", True),
        ("/admin/incidents/incident/?q=breach", True),
        ("/admin/incidents/incident/add/", True),  # the components picker
        (f"/admin/incidents/incident/{x}/change/", True),
        (f"/admin/incidents/incident/{x}/history/", True),
        (f"/admin/incidents/incident/{x}/delete/", True),
        ("/admin/incidents/component/", True),
        ("/admin/incidents/component/?q=ledger", True),
        # Lists no member (it links to the structure's page): nothing to show either reader.
        (f"/admin/incidents/recurringstructure/{s}/change/", False),
        (f"/admin/taxonomy/emergentshape/{shape}/change/", False),  # its canonical incident
    ]


def test_the_admin_shows_staff_outside_the_group_nothing(world, client):
    client.force_login(_staff(world.outsider))
    for url, _ in admin_pages(world):
        response = client.get(url, follow=True)
        assert response.status_code in (200, 404), (url, response.status_code)
        assert MARK not in response.content.decode().lower(), url
    client.force_login(_staff(world.member))
    for url, shows in admin_pages(world):
        response = client.get(url, follow=True)
        assert response.status_code == 200, (url, response.status_code)
        if shows:
            assert MARK in response.content.decode().lower(), url


# --- with and without: an outsider's answers do not change when a restricted review exists --

SEEN = "slack-erosion"  # open reviews recur; a restricted one joins them last
ALONE = "metric-myopia"  # one open review: only a restricted review would make it recur
FLAGGED = "alert-fatigue"  # "despite remediation" only through the restricted review's actions
BETWEEN = "fast-global-propagation"  # a restricted review between two open ones
HIDDEN = "buried-assumption"  # only restricted reviews
# Structures the outsider sees, newest first by what they can see.
OPEN_STRUCTURES = [f"pattern:{FLAGGED}", f"pattern:{SEEN}", f"pattern:{BETWEEN}"]


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def _recurring(by, title, day, patterns, *, actions=(), components=("Queue",), **fields):
    """A review with action items given as (status, completed on), aimed at its first
    pattern: done ones remediate it."""
    return services.incident_create(
        by=by,
        content=services.ReviewContent(
            fields={"title": title, "started_at": _at(day), **fields},
            components=list(components),
            actions=[
                services.ActionEntry(
                    f"Action {n} of {title}", status=status,
                    completed_at=_at(done) if done else None,
                    pattern=StructuralPattern.objects.get(slug=patterns[0]),
                )
                for n, (status, done) in enumerate(actions)
            ],
            patterns=[
                services.PatternClaim(StructuralPattern.objects.get(slug=s), "It shows it.")
                for s in patterns
            ],
        ),
    )  # fmt: skip


def _add_open_reviews(by) -> None:
    _recurring(by, "Open one", "2025-01-05", [BETWEEN], actions=[("done", "2025-01-06")])
    _recurring(by, "Open two", "2025-01-10", [SEEN], actions=[("done", "2025-01-15")])
    _recurring(by, "Open three", "2025-01-20", [FLAGGED])
    _recurring(by, "Open four", "2025-02-10", [ALONE])
    _recurring(by, "Open five", "2025-03-05", [BETWEEN])
    _recurring(by, "Open six", "2025-04-10", [SEEN], actions=[("open", None)])
    _recurring(by, "Open seven", "2025-05-20", [FLAGGED], actions=[("open", None)])


def _add_restricted_reviews(by, group) -> None:
    def secret(n, day, patterns, actions):
        _recurring(
            by, f"{MARK}title {n}", day, [*patterns, HIDDEN], actions=actions,
            components=("Queue", f"{MARK.capitalize()}vault"), restricted_to=group,
        )  # fmt: skip

    # Between two open reviews of BETWEEN, with open actions: the stored predecessor of
    # "Open five" is this one, yet for the outsider "Open one" (all done) came before it.
    secret(1, "2025-02-05", [BETWEEN], [("open", None)])
    # Its actions were done before "Open seven": stored, FLAGGED recurred despite them.
    secret(2, "2025-02-20", [FLAGGED], [("done", "2025-02-25")])
    # The newest member of SEEN and ALONE's second member.
    secret(3, "2025-06-01", [SEEN, ALONE], [("open", None)])


def _comparable(response) -> tuple[int, object]:
    """Status and body, with what differs from one request to the next taken out."""
    if response.get("Content-Type", "").startswith("application/json"):
        return response.status_code, response.json()
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())
    return response.status_code, html


def _answers(user, web, api) -> dict[str, tuple[int, object]]:
    """What a reader gets from every place that lists, counts or filters by structures and
    components."""
    structures = RecurringStructure.objects.filter(signature__in=OPEN_STRUCTURES)
    urls = [
        "/recurrences/", "/recurrences/?despite_remediation=true", "/patterns/",
        "/shapes/cascade/", "/recurrences/?sort=last", "/recurrences/?component=queue",
        f"/recurrences/?component={MARK}vault",
        *(f"/recurrences/{s.pk}/" for s in structures),
        *(f"/patterns/{slug}/" for slug in (SEEN, ALONE, FLAGGED, BETWEEN, HIDDEN)),
        "/api/v1/recurrences/",
        "/api/v1/recurrences/?despite_remediation=true",
        "/api/v1/recurrences/?despite_remediation=false",
        "/api/v1/recurrences/?sort=last", "/api/v1/recurrences/?sort=recurrences",
        "/api/v1/recurrences/?component=queue", f"/api/v1/recurrences/?component={MARK}vault",
        *(f"/api/v1/recurrences/?pattern={slug}" for slug in (SEEN, ALONE, HIDDEN)),
        *(f"/api/v1/recurrences/{s.pk}/" for s in structures),
        "/api/v1/components/", "/api/v1/components/queue/",
        "/api/v1/incidents/?component=queue",
        f"/api/v1/incidents/?component={MARK}vault",
        "/api/v1/incidents/?component=no-such-part",
        f"/api/v1/components/{MARK}vault/",
        f"/api/v1/patterns/{HIDDEN}/",
        # An open review's page says what came before it, and whether despite remediation.
        *(f"/incidents/{pk}/" for pk in Incident.objects.filter(
            title__startswith="Open").values_list("pk", flat=True)),
    ]  # fmt: skip
    answers = {url: _comparable(_get(api if "/api/" in url else web, url)) for url in urls}
    window = {"since": "2025-01-01T00:00:00Z", "until": "2025-07-01T00:00:00Z"}
    report = report_generate(report_id=Report.objects.create(created_by=user, params=window).pk)
    snapshot = {k: v for k, v in report.snapshot.items() if k != "generated_at"}
    answers["report snapshot"] = (200, snapshot)
    for component in ("queue", f"{MARK}vault"):
        asked = api.post("/api/v1/reports/", {**window, "component": component}, format="json")
        # A report accepted is a new report each time: only whether it was accepted compares.
        answers[f"POST report {component}"] = (
            _comparable(asked) if asked.status_code == 400 else (asked.status_code, None)
        )
        # Followed, so that the "being generated" message is read on the new report's page.
        # The page lists earlier reports, new ones included: only the form's errors compare.
        form = web.post("/reports/", {"since": "2025-01-01", "until": "2025-07-01",
                                      "component": component}, follow=True)  # fmt: skip
        answers[f"POST /reports/ {component}"] = (
            ("accepted", None)
            if form.redirect_chain
            else (form.status_code, dict(form.context["form"].errors))
        )
    return answers


@pytest.fixture
def with_and_without(client, django_capture_on_commit_callbacks):
    """An outsider's and a member's answers before and after the restricted reviews exist."""
    group = GroupFactory(name="security")
    member, outsider = UserFactory(username="member"), UserFactory(username="outsider")
    member.groups.add(group)
    w = World(None, None, None, member, outsider, None, None)
    api = {u: token_client(u, "write") for u in (member, outsider)}
    web = {}
    for user in (member, outsider):
        web[user] = type(client)()
        web[user].force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        _add_open_reviews(outsider)
    _reviewed_next_day()
    before = {u: _answers(u, web[u], api[u]) for u in (member, outsider)}
    with django_capture_on_commit_callbacks(execute=True):
        _add_restricted_reviews(member, group)
    _reviewed_next_day()
    after = {u: _answers(u, web[u], api[u]) for u in (member, outsider)}
    return w, before, after


def test_an_outsiders_answers_are_the_same_with_or_without_the_restricted_reviews(
    with_and_without,
):
    w, before, after = with_and_without
    for url, answer in before[w.outsider].items():
        assert after[w.outsider][url] == answer, url
        # The slug the outsider asked about comes back in the error; nothing else may.
        assert MARK not in str(after[w.outsider][url]).lower().replace(f"{MARK}vault", ""), url


def test_the_member_sees_the_difference(with_and_without):
    w, before, after = with_and_without
    changed = {url for url, answer in before[w.member].items() if after[w.member][url] != answer}
    assert {
        "/recurrences/", "/api/v1/recurrences/", f"/api/v1/recurrences/?pattern={ALONE}",
        f"/api/v1/recurrences/?pattern={HIDDEN}", f"/api/v1/incidents/?component={MARK}vault",
        f"/patterns/{HIDDEN}/", "POST report quokkavault", "POST /reports/ quokkavault",
    } <= changed  # fmt: skip
    listed = {r["signature"] for r in after[w.member]["/api/v1/recurrences/"][1]["results"]}
    assert {f"pattern:{ALONE}", f"pattern:{HIDDEN}"} <= listed
    assert after[w.member][f"/api/v1/incidents/?component={MARK}vault"][1]["results"]


def test_the_outsiders_recurrences_rest_on_what_they_may_see(with_and_without):
    w, _, after = with_and_without
    rows = after[w.outsider]["/api/v1/recurrences/"][1]["results"]
    assert sorted(r["signature"] for r in rows) == sorted(OPEN_STRUCTURES)
    # ranked by what the outsider may see: recurred despite remediation first
    flags = [r["recurred_despite_remediation"] for r in rows]
    assert flags == sorted(flags, reverse=True)
    by_signature = {r["signature"]: r for r in rows}
    assert all(r["incident_count"] == 2 and r["hidden_incidents"] == 0 for r in rows)
    # FLAGGED recurred after the restricted review's actions were done, not the open one's.
    assert by_signature[f"pattern:{FLAGGED}"]["recurred_despite_remediation"] is False
    # BETWEEN came back after "Open one"'s actions were done, whatever was in between.
    between = by_signature[f"pattern:{BETWEEN}"]
    assert between["recurred_despite_remediation"] is True
    assert between["incidents"][1]["after_remediation"] is True
    assert between["incidents"][1]["remediation_kinds"] == ["component_patch"]
    # A component only restricted reviews use is answered like one that does not exist.
    unknown = after[w.outsider]["/api/v1/incidents/?component=no-such-part"]
    assert after[w.outsider][f"/api/v1/incidents/?component={MARK}vault"] == unknown
    # The member's view of the same structures counts the restricted reviews.
    theirs = {r["signature"]: r for r in after[w.member]["/api/v1/recurrences/"][1]["results"]}
    assert theirs[f"pattern:{SEEN}"]["incident_count"] == 3
    assert theirs[f"pattern:{FLAGGED}"]["recurred_despite_remediation"] is True
