"""The review editor as the server renders it: rows come from a template, not from saves; a
pattern link needs the author's rationale; the diff speaks in labels and local times."""

from __future__ import annotations

import copy
import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from incidents.models import Incident, PatternLink
from incidents.revisions import diff_snapshots
from tests.test_revision_diff import BASE

from .factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def author(client):
    """A user who may write reviews, logged in."""
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="add_incident"))
    client.force_login(user)
    return user


def _rows(html: str, prefix: str) -> set[str]:
    """The row indices of a formset's fields outside its <template>."""
    outside = re.sub(r"<template.*?</template>", "", html, flags=re.S)
    return set(re.findall(rf'name="{prefix}-(\d+)-', outside))


def _management(html: str, prefix: str, what: str) -> str:
    return re.search(rf'name="{prefix}-{what}" value="(\d+)"', html).group(1)


def test_a_new_review_starts_with_one_row_of_each_part_and_a_template_to_add_more(client, author):
    html = client.get(reverse("incidents:create")).content.decode()
    for prefix in ("timeline", "factors", "actions", "patterns"):
        # (A review template may suggest more timeline rows; see review_templates.)
        rows = _rows(html, prefix)
        assert rows, prefix
        assert rows == {str(i) for i in range(len(rows))}, prefix
        assert _management(html, prefix, "TOTAL_FORMS") == str(len(rows))
        assert f'name="{prefix}-__prefix__-' in html  # the empty row the script clones
    assert _rows(html, "factors") == _rows(html, "actions") == {"0"}
    for label in ("Add timeline event", "Add contributing factor", "Add action item"):
        assert f'<button type="button" class="secondary" data-formset-add>{label}</button>' in html


def test_editing_shows_the_stored_rows_and_no_blank_ones_however_often_it_is_saved(
    client, author, save_review
):
    incident = save_review(title="Two saves later", by=author, patterns=["alert-fatigue"])
    url = reverse("incidents:edit", args=[incident.pk])
    for _ in range(2):
        html = client.get(url).content.decode()
        assert _rows(html, "patterns") == {"0"}
        assert _rows(html, "timeline") == set()
        assert _management(html, "timeline", "TOTAL_FORMS") == "0"
        data = {
            "title": "Two saves later",
            "severity": incident.severity,
            "version": str(Incident.objects.get(pk=incident.pk).version),
            **{f"{p}-TOTAL_FORMS": "0" for p in ("timeline", "factors", "actions")},
            **{f"{p}-INITIAL_FORMS": "0" for p in ("timeline", "factors", "actions")},
            "patterns-TOTAL_FORMS": "1",
            "patterns-INITIAL_FORMS": "1",
            "patterns-0-pattern": str(incident.pattern_links.get().pattern_id),
            "patterns-0-rationale": "Shows alert-fatigue.",
        }
        response = client.post(url, data)
        assert response.status_code == 302, response.content.decode()[:3000]


def test_six_events_and_three_actions_added_in_one_post_are_all_saved(client, author):
    data = {"title": "Six and three", "severity": "sev2", "version": ""}
    for prefix, count in (("timeline", 6), ("factors", 0), ("actions", 3), ("patterns", 0)):
        data[f"{prefix}-TOTAL_FORMS"] = str(count)
        data[f"{prefix}-INITIAL_FORMS"] = "0"
    for i in range(6):
        data |= {
            f"timeline-{i}-occurred_at": f"2026-05-0{i + 1}T10:00:00",
            f"timeline-{i}-kind": "decision",
            f"timeline-{i}-text": f"Step {i + 1}",
        }
    for i in range(3):
        data |= {
            f"actions-{i}-title": f"Action {i + 1}",
            f"actions-{i}-status": "open",
            f"actions-{i}-kind": "structural_fix",
        }
    response = client.post(reverse("incidents:create"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    incident = Incident.objects.get(title="Six and three")
    assert [e.text for e in incident.timeline.all()] == [f"Step {i}" for i in range(1, 7)]
    assert incident.action_items.count() == 3
    assert incident.version == 1


def test_a_pattern_without_a_rationale_is_refused_with_a_reason(client, author, save_review):
    incident = save_review(title="No reason given", by=author)
    data = {
        "title": "No reason given",
        "severity": incident.severity,
        "version": "1",
        **{f"{p}-TOTAL_FORMS": "0" for p in ("timeline", "factors", "actions")},
        **{f"{p}-INITIAL_FORMS": "0" for p in ("timeline", "factors", "actions", "patterns")},
        "patterns-TOTAL_FORMS": "1",
        "patterns-0-pattern": str(
            PatternLink._meta.get_field("pattern")
            .related_model.objects.get(slug="alert-fatigue")
            .pk
        ),
        "patterns-0-rationale": "   ",
    }
    response = client.post(reverse("incidents:edit", args=[incident.pk]), data)
    assert response.status_code == 200
    assert "a pattern link needs your rationale" in response.content.decode()
    assert not incident.pattern_links.exists()


def test_accepting_a_suggestion_as_a_link_needs_the_authors_rationale(client, author, save_review):
    incident = save_review(title="Suggested", by=author)
    url = reverse("incidents:decide", args=[incident.pk])
    refused = client.post(
        url, {"decision": "accepted", "pattern": "alert-fatigue", "why": "Seams' evidence"}
    )
    assert refused.status_code == 400
    assert "needs your rationale" in refused.json()["error"]
    assert not incident.pattern_links.exists()
    # The browser records the answer only, and the author's save makes the link.
    recorded = client.post(
        url,
        {"decision": "accepted", "pattern": "alert-fatigue", "link": "0"},
        HTTP_ACCEPT="application/json",
    )
    assert recorded.json() == {"ok": True}
    assert not incident.pattern_links.exists()
    linked = client.post(
        url,
        {"decision": "accepted", "pattern": "alert-fatigue", "rationale": "Pages ignored."},
        HTTP_ACCEPT="application/json",
    )
    assert linked.status_code == 200
    assert incident.pattern_links.get().rationale == "Pages ignored."


def _changed(**changes):
    snap = copy.deepcopy(BASE)
    snap.update(changes)
    return snap


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_the_diff_names_fields_and_choices_in_peoples_words():
    new = _changed(
        severity="sev1",
        status="in_review",
        shapes=["cascade"],
        complexity=2,
        timeline=[{**BASE["timeline"][0], "kind": "decision"}],
        actions=[{**BASE["actions"][0], "kind": "component_patch", "status": "done"}],
    )
    sections = {s.name: _text(s.html) for s in diff_snapshots(BASE, new)}
    assert "SEV1 — critical" in sections["Severity"]
    assert "SEV2 — major" in sections["Severity"]
    assert "In review" in sections["Status"]
    assert "Decision" in sections["Timeline"]
    assert "Trigger" in sections["Timeline"]
    actions = sections["Action items"]
    assert "Kind: Component patch" in actions
    assert "Kind: Structural fix" in actions
    assert "Status: Done" in actions
    assert "Pattern: Buried assumption" in actions
    assert "Cascade" in sections["Emergent shapes"]
    assert "Interactive complexity: 2 of 5" in sections["Perrow position"]
    everything = " ".join(sections.values())
    for code in ("sev1", "in_review", "structural_fix", "component_patch", "buried-assumption"):
        assert code not in everything


def test_the_diff_shows_moments_as_times_the_browser_puts_in_local_time():
    new = _changed(detected_at="2025-11-18T11:27:30+00:00")
    [times] = diff_snapshots(BASE, new)
    assert times.name == "Times"
    assert (
        '<time datetime="2025-11-18T11:27:30+00:00" data-local="seconds">'
        "18 Nov 2025, 11:27:30 UTC</time>" in times.html
    )
    assert "Detected: —" in times.html
    assert "T11:27:30" not in _text(times.html)


def test_text_that_looks_like_a_time_marker_is_still_escaped():
    new = _changed(summary="\ue000<script>alert(1)</script>\ue001")
    [summary] = diff_snapshots(BASE, new)
    assert "<script>" not in summary.html
