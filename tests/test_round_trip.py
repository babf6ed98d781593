"""Every field of every web form survives an unchanged round trip.

Open the edit form, submit it exactly as a browser would without touching anything: the
stored review, its parts and its new revision must be what they were. The review is filled
with awkward but valid values (times with seconds and microseconds, due dates, done items,
text with surrounding whitespace and CRLF, unicode, a component whose name has a comma) so
that each way a widget can lose a value is exercised. Comparisons are over whole rows and
whole snapshots, so a field added later is covered without touching these tests; the
`_every_form_field_is_filled` check makes the fixture keep up with new form fields.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import models
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.forms import (
    ActionItemForm,
    FactorForm,
    IncidentForm,
    PatternLinkForm,
    TimelineEventForm,
)
from incidents.models import Incident, Revision
from incidents.revisions import diff_snapshots, snapshot
from reports.models import Report
from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern

from .factories import GroupFactory, UserFactory, review

UTC = dt.UTC

# --- A form as a browser submits it ---------------------------------------------------------

_DATE = r"(\d{4,})-(\d\d)-(\d\d)"
_TIME = r"(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,3}))?)?"
_TEXT_LIKE = {"text", "search", "tel", "password", "url", "email"}


def _sanitised(kind: str, value: str) -> str:
    """An <input>'s value after the browser's value sanitisation (HTML § 4.10.5.1)."""
    if kind in _TEXT_LIKE:
        value = value.replace("\r", "").replace("\n", "")
        return value.strip(" \t\f") if kind in {"url", "email"} else value
    if kind == "date":
        return value if re.fullmatch(_DATE, value) else ""
    if kind == "datetime-local":
        match = re.fullmatch(f"{_DATE}[T ]{_TIME}", value)
        if not match:
            return ""  # a browser shows and submits nothing for a value it cannot read
        year, month, day, hour, minute, second, fraction = match.groups()
        # The normalised form: "T", and the shortest time that keeps the value.
        out = f"{year}-{month}-{day}T{hour}:{minute}"
        fraction = (fraction or "").rstrip("0")
        if fraction:
            return f"{out}:{second}.{fraction}"
        return f"{out}:{second}" if second and second != "00" else out
    if kind == "number":
        return value if re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", value) else ""
    return value  # hidden and the rest submit what the markup says


class _FormReader(HTMLParser):
    """The entries a browser would submit for one <form>, in document order."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.in_form = False
        self.entries: list[tuple[str, str]] = []
        self.names: set[str] = set()
        self._textarea: dict | None = None
        self._select: dict | None = None
        self._option: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.in_form = True
        if not self.in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            self.names.add(name)
            kind = a.get("type", "text").lower()
            if "disabled" in a or kind in {"submit", "button", "reset", "image", "file"}:
                return
            if kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self.entries.append((name, a.get("value", "on")))
                return
            self.entries.append((name, _sanitised(kind, a.get("value", ""))))
        elif tag == "textarea" and name:
            self.names.add(name)
            self._textarea = {"name": name, "text": [], "disabled": "disabled" in a}
        elif tag == "select" and name:
            self.names.add(name)
            self._select = {"name": name, "options": [], "disabled": "disabled" in a,
                            "multiple": "multiple" in a}  # fmt: skip
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "selected": "selected" in a, "text": []}
            self._select["options"].append(self._option)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea["text"].append(data)
        elif self._option is not None:
            self._option["text"].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.in_form:
            self.in_form = False
        elif tag == "textarea" and self._textarea is not None:
            area, self._textarea = self._textarea, None
            text = "".join(area["text"])
            # The HTML parser drops one newline right after <textarea> and reads CR LF as LF.
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            text = text.removeprefix("\n")
            if not area["disabled"]:
                self.entries.append((area["name"], text))
        elif tag == "option":
            self._option = None
        elif tag == "select" and self._select is not None:
            select, self._select = self._select, None
            options = select["options"]
            chosen = [o for o in options if o["selected"]]
            if not chosen and options and not select["multiple"]:
                chosen = options[:1]  # a single select with nothing marked shows its first
            for option in [] if select["disabled"] else chosen:
                value = option["value"]
                if value is None:
                    value = " ".join("".join(option["text"]).split())
                self.entries.append((select["name"], value))


def browser_submission(html: str, form_id: str) -> dict[str, list[str]]:
    """What a browser posts for `form_id` left untouched: every successful control's value,
    newlines sent as CR LF (as `application/x-www-form-urlencoded` requires)."""
    reader = _FormReader(form_id)
    reader.feed(html)
    reader.close()
    assert reader.names, f"no form #{form_id} with controls on the page"
    data: dict[str, list[str]] = {}
    for name, value in reader.entries:
        crlf = value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
        data.setdefault(name, []).append(crlf)
    return data


# --- The stored review, whole ---------------------------------------------------------------

_BOOKKEEPING = {"id", "incident", "version", "updated_at", "analysis_requested_at", "analysed_at"}


def _row(obj: models.Model) -> dict[str, Any]:
    """Every stored column of a row but its bookkeeping: new fields are compared too."""
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if f.name not in _BOOKKEEPING
    }


def stored_review(pk: int) -> dict[str, Any]:
    """The review and every part of it, as stored, in the order pages show them."""
    incident = Incident.objects.get(pk=pk)
    related = {}
    for rel in Incident._meta.related_objects:
        if rel.related_model in {Revision} or not rel.one_to_many:
            continue
        related[rel.get_accessor_name()] = [
            _row(obj) for obj in getattr(incident, rel.get_accessor_name()).all()
        ]
    many = {
        f.name: sorted(getattr(incident, f.name).values_list("pk", flat=True))
        for f in Incident._meta.many_to_many
    }
    return {"incident": _row(incident), **related, **many}


# --- A review with every field filled awkwardly ----------------------------------------------


def make_member():
    """An author in the group the review is restricted to."""
    user = UserFactory()
    user.groups.add(GroupFactory(name="security"))
    return user


@pytest.fixture
def member(db):
    return make_member()


@pytest.fixture
def awkward_review(member) -> Incident:
    return make_awkward_review(member)


def make_awkward_review(member) -> Incident:
    """A review with every field and part filled, each in a way a widget could lose."""
    at = dt.datetime(2026, 3, 1, 9, 15, 42, tzinfo=UTC)
    pattern = StructuralPattern.objects.order_by("name")
    level = LeverageLevel.objects.order_by("number")
    content = services.ReviewContent(
        fields={
            "title": "  Ünïcode “title” — kept as typed  ",
            "status": Incident.Status.IN_REVIEW,
            "severity": Incident.Severity.SEV1,
            "started_at": at,
            "detected_at": at + dt.timedelta(minutes=3, microseconds=250_001),
            "mitigated_at": at + dt.timedelta(hours=2, seconds=18),  # seconds are 00
            "resolved_at": dt.datetime(2026, 3, 2, 0, 0, tzinfo=UTC),
            "summary": "\n    indented first line is a code block\r\nsecond line  \r\n",
            "impact": "Line one\nLine two with trailing spaces   \n\n",
            "users_affected": "  ~40 % of EU users ",
            "users_affected_count": 41250,
            "narrative": "\n\nTwo leading newlines, <b>markup</b> &amp; entities, 日本語 🚒",
            "went_well": "\tTab first",
            "where_lucky": "Lucky.  ",
            "complexity": 4,
            "coupling": 5,
            "restricted_to": member.groups.get(name="security"),
            "external_id": "import:round-trip-1",
            "source_url": "https://example.com/postmortem",
            "organisation": " Example Networks, EU ",
            "timeline_names_allowed": True,
        },
        shapes=list(EmergentShape.objects.filter(slug__in=["cascade", "concentration"])),
        components=["WAF Managed Rules", "Quicksilver", "Edge, Frankfurt"],
        timeline=[
            services.TimelineEntry(
                occurred_at=at, kind="trigger", text=" Deploy started ", why_reasonable=""
            ),
            services.TimelineEntry(
                occurred_at=at,
                kind="decision",
                text="Two lines:\nfirst\r\nsecond",
                why_reasonable="  It had worked\ttwice. ",
            ),
            services.TimelineEntry(
                occurred_at=at + dt.timedelta(seconds=1, microseconds=999_999),
                kind="recovery",
                text="Rolled back ✓",
            ),
        ],
        factors=["  factor with spaces  ", "multi\r\nline\r\nfactor", "\nleading newline"],
        actions=[
            services.ActionEntry(
                title="Renew certificates automatically",
                owner_user=member,
                owner="  ana ",
                status="open",
                due=dt.date(2026, 12, 15),
                tracker_url="https://tracker.example.com/T-1?x=1&y=2",
                kind="structural_fix",
                leverage_level=level[5],
                pattern=pattern[0],
            ),
            services.ActionEntry(
                title="Same title",
                status="done",
                due=dt.date(2026, 1, 31),
                # Someone who has left since: an untouched save keeps them the owner.
                owner_user=UserFactory(is_active=False),
                completed_at=dt.datetime(2026, 2, 1, 8, 0, 1, 5, tzinfo=UTC),
            ),
            services.ActionEntry(
                title="Same title",
                status="done",
                completed_at=dt.datetime(2026, 2, 3, 17, 30, tzinfo=UTC),
            ),
            services.ActionEntry(
                title="Never mind",
                status="wont_do",
                kind="component_patch",
                owner_team=GroupFactory(name="security"),
            ),
        ],
        patterns=[
            services.PatternClaim(pattern=pattern[0], rationale=" spaces around \r\n"),
            services.PatternClaim(pattern=pattern[1], rationale="Ünïcode rationale"),
        ],
    )
    incident = services.incident_create(by=member, content=content)
    incident.reviewers.add(UserFactory())
    return incident


def _every_form_field_is_filled(data: dict[str, list[str]]) -> None:
    """Every field of every form shows a value, so none goes untested: a new field fails here
    until the fixture fills it (or the form shows it)."""
    forms = {
        "": IncidentForm,
        "timeline": TimelineEventForm,
        "factors": FactorForm,
        "actions": ActionItemForm,
        "patterns": PatternLinkForm,
    }
    for prefix, form_class in forms.items():
        for name in set(form_class.base_fields) - {"version"}:
            key = re.compile(rf"{prefix}-\d+-{name}" if prefix else name)
            shown = [v for k, values in data.items() if key.fullmatch(k) for v in values]
            assert any(v.strip() for v in shown), (
                f"no value shown for {key.pattern}: the form drops it or the fixture is empty"
            )


# --- The tests ------------------------------------------------------------------------------


def test_an_unchanged_save_keeps_every_field_of_the_review(client, member, awkward_review):
    client.force_login(member)
    pk = awkward_review.pk
    before = stored_review(pk)
    revision_before = Revision.objects.filter(incident_id=pk).latest("version")

    page = client.get(reverse("incidents:edit", args=[pk]))
    assert page.status_code == 200
    data = browser_submission(page.content.decode(), "review-form")
    _every_form_field_is_filled(data)
    # What the person sees in the date inputs (a browser shows nothing for another format).
    assert data["actions-0-due"] == ["2026-12-15"]
    assert data["started_at"] == ["2026-03-01T09:15:42"]

    response = client.post(reverse("incidents:edit", args=[pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]

    after = stored_review(pk)
    assert after == before
    revision_after = Revision.objects.filter(incident_id=pk).latest("version")
    assert revision_after.version == revision_before.version + 1
    assert revision_after.snapshot == revision_before.snapshot
    assert diff_snapshots(revision_before.snapshot, revision_after.snapshot) == []
    assert snapshot(Incident.objects.get(pk=pk)) == revision_before.snapshot


def test_an_unchanged_save_keeps_a_sparse_review_sparse(client, member):
    """Empty stays empty (no time, group or score invented), and a time written by a bot
    with microseconds keeps them."""
    incident = review(title="Only a title", by=member)
    assert incident.started_at.microsecond  # as `timezone.now()` gives it
    client.force_login(member)
    url = reverse("incidents:edit", args=[incident.pk])
    before = stored_review(incident.pk)
    data = browser_submission(client.get(url).content.decode(), "review-form")
    assert client.post(url, data).status_code == 302
    assert stored_review(incident.pk) == before


def test_a_second_unchanged_save_changes_nothing_either(client, member, awkward_review):
    """The first save must not leave the review in a state the next save would change."""
    client.force_login(member)
    url = reverse("incidents:edit", args=[awkward_review.pk])
    for _ in range(2):
        client.post(url, browser_submission(client.get(url).content.decode(), "review-form"))
    before = stored_review(awkward_review.pk)
    client.post(url, browser_submission(client.get(url).content.decode(), "review-form"))
    assert stored_review(awkward_review.pk) == before


def test_a_new_review_submitted_from_the_blank_form_is_refused_with_nothing_invented(
    client, member
):
    """The blank form's defaults, submitted untouched, ask only for a title."""
    client.force_login(member)
    page = client.get(reverse("incidents:create"))
    response = client.post(
        reverse("incidents:create"), browser_submission(page.content.decode(), "review-form")
    )
    assert response.status_code == 200
    assert not Incident.objects.exists()
    assert list(response.context["forms"].incident.errors) == ["title"]


def test_editing_one_field_changes_only_that_field(client, member, awkward_review):
    client.force_login(member)
    url = reverse("incidents:edit", args=[awkward_review.pk])
    before = stored_review(awkward_review.pk)
    data = browser_submission(client.get(url).content.decode(), "review-form")
    data["actions-0-due"] = ["2027-01-02"]
    data["where_lucky"] = ["Lucky, edited."]
    assert client.post(url, data).status_code == 302

    after = stored_review(awkward_review.pk)
    assert after["action_items"][0]["due"] == dt.date(2027, 1, 2)
    assert after["incident"]["where_lucky"] == "Lucky, edited."
    after["action_items"][0]["due"] = before["action_items"][0]["due"]
    after["incident"]["where_lucky"] = before["incident"]["where_lucky"]
    assert after == before


def test_the_report_form_submits_the_window_it_shows(client, member):
    client.force_login(member)
    page = client.get(reverse("reports:list"))
    data = browser_submission(page.content.decode(), "report-form")
    today = timezone.now().date()
    assert data["since"] == [(today - dt.timedelta(days=91)).isoformat()]
    assert data["until"] == [today.isoformat()]

    response = client.post(reverse("reports:list"), data)
    assert response.status_code == 302
    report = Report.objects.get()
    assert report.params["since"].startswith(data["since"][0])
    assert report.params["until"].startswith(data["until"][0])


def test_components_that_cannot_be_read_are_refused_with_a_reason(client, member, awkward_review):
    client.force_login(member)
    url = reverse("incidents:edit", args=[awkward_review.pk])
    before = stored_review(awkward_review.pk)
    data = browser_submission(client.get(url).content.decode(), "review-form")
    data["components_text"] = ['"Edge, Frankfurt, WAF']
    response = client.post(url, data)
    assert response.status_code == 200
    assert "put a name that contains a comma in double quotes" in response.content.decode()
    assert stored_review(awkward_review.pk) == before


def test_sending_for_review_again_untouched_keeps_every_named_reviewer(client, member):
    """The reviewers already named start ticked: resubmitting the form drops nobody."""
    incident = review(by=member)
    first, second = UserFactory(username="ada"), UserFactory(username="grace")
    services.incident_request_review(incident=incident, by=member, reviewers=[first, second])
    client.force_login(member)
    url = reverse("incidents:request_review", args=[incident.pk])

    data = browser_submission(client.get(url).content.decode(), "request-review-form")
    response = client.post(url, data)

    assert response.status_code == 302
    assert set(incident.reviewers.values_list("username", flat=True)) == {"ada", "grace"}
