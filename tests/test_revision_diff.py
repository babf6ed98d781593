"""The diff between two revisions shows every change a save made, whatever the field.

A lost due date once went unseen because the diff printed only an action item's title,
status, kind and owner; these tests change each stored value on its own and expect a diff.
"""

from __future__ import annotations

import copy

import pytest
from django.contrib.auth.models import Group

from incidents import services
from incidents.models import Revision
from incidents.revisions import diff_snapshots

from .actions_helpers import person, review_with

BASE = {
    "title": "Config push pinned CPU",
    "status": "draft",
    "severity": "sev2",
    "summary": "A summary.",
    "impact": "Impact.",
    "users_affected": "Most",
    "narrative": "Narrative.",
    "went_well": "Rollback.",
    "where_lucky": "Quiet hour.",
    "started_at": "2025-11-18T11:20:00+00:00",
    "detected_at": None,
    "mitigated_at": None,
    "resolved_at": None,
    "complexity": 4,
    "coupling": 5,
    "restricted_to": None,
    "timeline_names_allowed": False,
    "shapes": ["recurrence"],
    "components": ["Edge config"],
    "timeline": [
        {"occurred_at": "2025-11-18T11:20:00+00:00", "kind": "trigger", "text": "Push.",
         "why_reasonable": "Routine."}
    ],
    "factors": ["A file doubled in size."],
    "actions": [
        {"title": "Limit file size", "owner": "edge", "status": "open", "due": "2026-12-15",
         "tracker_url": "https://tracker.example/1", "kind": "structural_fix",
         "leverage_level": "rules", "pattern": "buried-assumption", "completed_at": None}
    ],
    "patterns": [{"slug": "buried-assumption", "rationale": "Assumed a size."}],
}  # fmt: skip


def _changed(path: tuple, value):
    snap = copy.deepcopy(BASE)
    target = snap
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return snap


def _leaf_paths(value, prefix=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaf_paths(item, (*prefix, key))
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        for i, item in enumerate(value):
            yield from _leaf_paths(item, (*prefix, i))
    else:
        yield prefix


@pytest.mark.django_db
@pytest.mark.parametrize("path", list(_leaf_paths(BASE)), ids=lambda p: ".".join(map(str, p)))
def test_every_stored_value_shows_in_the_diff_when_it_changes(path):
    group = Group.objects.create(name="security")
    replacement = {
        "restricted_to": group.pk,
        "timeline_names_allowed": True,
        "complexity": 2,
        "coupling": 1,
        "completed_at": "2026-01-02T03:04:05+00:00",
        "shapes": ["cascade"],
        "components": ["Edge config", "DNS"],
        "factors": ["A different factor."],
    }.get(path[-1], "changed value")
    if path[-1] in ("due",):
        replacement = None
    diffs = diff_snapshots(BASE, _changed(path, replacement))
    assert diffs, f"changing {'.'.join(map(str, path))} left the diff empty"


@pytest.mark.django_db
def test_a_lost_due_date_is_named_in_the_action_items_diff():
    diffs = diff_snapshots(BASE, _changed(("actions", 0, "due"), None))
    [section] = diffs
    assert section.name == "Action items"
    assert "Due: 15 Dec 2026" in section.html


@pytest.mark.django_db
def test_restricting_a_review_names_the_group():
    group = Group.objects.create(name="security")
    [section] = diff_snapshots(BASE, _changed(("restricted_to",), group.pk))
    assert section.name == "Restricted to group"
    assert "group security" in section.html


@pytest.mark.django_db
def test_allowing_names_in_imported_timelines_is_in_the_history_and_a_restore_never_allows_them():
    author = person("ana")
    incident = review_with(by=author)
    services.incident_patch(incident=incident, by=author, fields={"timeline_names_allowed": True})
    first, second = Revision.objects.filter(incident=incident).order_by("version")
    assert second.snapshot["timeline_names_allowed"] is True
    [section] = diff_snapshots(first.snapshot, second.snapshot)
    assert section.name == "Names in imported timelines"
    assert "Kept: each imported message shows who wrote it" in section.html
    # Restoring the save before names were allowed takes them away again...
    services.revision_restore(revision=first, by=author)
    incident.refresh_from_db()
    assert incident.timeline_names_allowed is False
    # ...but restoring the one that allowed them does not allow them again.
    services.revision_restore(revision=second, by=author)
    incident.refresh_from_db()
    assert incident.timeline_names_allowed is False


@pytest.mark.django_db
def test_a_snapshot_from_before_the_setting_was_recorded_shows_no_change_to_it():
    older = {key: value for key, value in BASE.items() if key != "timeline_names_allowed"}
    assert diff_snapshots(older, BASE) == []
    assert diff_snapshots(older, _changed(("timeline_names_allowed",), True)) == []
