"""Revisions: every save of a review is kept whole, can be compared with any other, and can
be restored (which is itself a new save, so restoring loses nothing either)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import Incident, Revision

# The order sections appear in a diff, with their display names.
SECTIONS = [
    ("title", "Title"),
    ("status", "Status"),
    ("severity", "Severity"),
    ("times", "Times"),
    ("summary", "Summary"),
    ("impact", "Impact"),
    ("users_affected", "Users affected"),
    ("users_affected_count", "Number of users affected"),
    ("narrative", "Narrative"),
    ("timeline", "Timeline"),
    ("factors", "Contributing factors"),
    ("went_well", "What went well"),
    ("where_lucky", "Where we got lucky"),
    ("actions", "Action items"),
    ("shapes", "Emergent shapes"),
    ("patterns", "Structural patterns"),
    ("components", "Components"),
    ("perrow", "Perrow position"),
    ("restricted_to", "Restricted to group"),
]
TEXT_FIELDS = ["title", "status", "severity", "summary", "impact", "users_affected", "narrative",
               "went_well", "where_lucky", "organisation"]  # fmt: skip
TIME_FIELDS = ["started_at", "detected_at", "mitigated_at", "resolved_at"]


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value else None


def snapshot(incident: Incident) -> dict[str, Any]:
    """The whole review as plain JSON: everything a later restore needs."""
    return {
        **{name: getattr(incident, name) for name in TEXT_FIELDS},
        **{name: _iso(getattr(incident, name)) for name in TIME_FIELDS},
        "complexity": incident.complexity,
        "coupling": incident.coupling,
        "users_affected_count": incident.users_affected_count,
        "restricted_to": incident.restricted_to_id,
        "shapes": sorted(s.slug for s in incident.shapes.all()),
        "components": sorted(c.name for c in incident.components.all()),
        "timeline": [
            {
                "occurred_at": _iso(e.occurred_at),
                "kind": e.kind,
                "text": e.text,
                "why_reasonable": e.why_reasonable,
            }
            for e in incident.timeline.all()
        ],
        "factors": [f.text for f in incident.contributing_factors.all()],
        "actions": [
            {
                "title": a.title,
                "owner": a.owner,
                "status": a.status,
                "due": _iso(a.due),
                "tracker_url": a.tracker_url,
                "kind": a.kind,
                "leverage_level": a.leverage_level.slug if a.leverage_level_id else None,
                "pattern": a.pattern.slug if a.pattern_id else None,
                "completed_at": _iso(a.completed_at),
            }
            for a in incident.action_items.select_related("leverage_level", "pattern")
        ],
        "patterns": [
            {"slug": link.pattern.slug, "rationale": link.rationale}
            for link in incident.pattern_links.select_related("pattern")
        ],
    }


def record_revision(*, incident: Incident, by, note: str = "") -> Revision:
    """Keep the review as it is now under its current version number."""
    return Revision.objects.create(
        incident=incident,
        version=incident.version,
        snapshot=snapshot(incident),
        created_by=by if getattr(by, "is_authenticated", False) else None,
        note=note,
    )


def _section_lines(snap: dict[str, Any], section: str) -> list[str]:
    """One section of a snapshot as lines of text, for a readable line diff."""
    if section in TEXT_FIELDS:
        return (snap.get(section) or "").splitlines()
    if section == "times":
        return [f"{name}: {snap.get(name) or '—'}" for name in TIME_FIELDS]
    if section == "users_affected_count":
        count = snap.get("users_affected_count")
        return ["unknown" if count is None else str(count)]
    if section == "perrow":
        return [f"complexity: {snap.get('complexity')}", f"coupling: {snap.get('coupling')}"]
    if section == "timeline":
        return [
            f"{e['occurred_at']} [{e['kind']}] {e['text']}"
            + (f" — why: {e['why_reasonable']}" if e.get("why_reasonable") else "")
            for e in snap.get("timeline", [])
        ]
    if section == "actions":
        # Every stored attribute of an item is on its line: a change to any of them (a due
        # date lost, a tracker link edited) must show in the diff, not only a new title.
        return [
            f"{a['title']} ({a['status']}, {a['kind']}, owner {a.get('owner') or '—'}, "
            f"due {a.get('due') or '—'}, leverage {a.get('leverage_level') or '—'}, "
            f"pattern {a.get('pattern') or '—'}, tracker {a.get('tracker_url') or '—'}, "
            f"done {a.get('completed_at') or '—'})"
            for a in snap.get("actions", [])
        ]
    if section == "restricted_to":
        from django.contrib.auth.models import Group

        group_id = snap.get("restricted_to")
        if not group_id:
            return ["everyone who may read reviews"]
        name = Group.objects.filter(pk=group_id).values_list("name", flat=True).first()
        return [f"group {name or f'#{group_id} (deleted)'}"]
    if section == "patterns":
        return [f"{p['slug']}: {p['rationale']}" for p in snap.get("patterns", [])]
    return [str(item) for item in snap.get(section, [])]


@dataclass(frozen=True)
class SectionDiff:
    """How one section changed between two revisions."""

    name: str
    html: SafeString


def diff_snapshots(old: dict[str, Any], new: dict[str, Any]) -> list[SectionDiff]:
    """The sections that differ, each as an HTML table of removed and added lines.

    Every line is escaped before it is wrapped in markup: revision text is user input.
    """
    diffs = []
    for key, name in SECTIONS:
        before, after = _section_lines(old, key), _section_lines(new, key)
        if before == after:
            continue
        rows = []
        for line in difflib.ndiff(before, after):
            tag, text = line[:2], escape(line[2:])
            if tag == "- ":
                rows.append(f'<tr class="del"><td>−</td><td>{text}</td></tr>')
            elif tag == "+ ":
                rows.append(f'<tr class="ins"><td>+</td><td>{text}</td></tr>')
            elif tag == "  ":
                rows.append(f'<tr class="same"><td></td><td>{text}</td></tr>')
        html = '<table class="diff">' + "".join(rows) + "</table>"
        diffs.append(SectionDiff(name, mark_safe(html)))
    return diffs


def changes_since(*, incident: Incident, version: int) -> list[SectionDiff]:
    """What other people changed after `version` (for an editor whose save was refused)."""
    found = {
        r.version: r.snapshot
        for r in incident.revisions.filter(version__in=[version, incident.version])
    }
    if version not in found or incident.version not in found:
        return []
    return diff_snapshots(found[version], found[incident.version])
