"""Revisions: every save of a review is kept whole, can be compared with any other, and can
be restored (which is itself a new save, so restoring loses nothing either)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

from django.db import models
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import ActionItem, Incident, Revision, TimelineEvent

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
    ("timeline_names_allowed", "Names in imported timelines"),
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
        "timeline_names_allowed": incident.timeline_names_allowed,
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
                "owner_user": a.owner_user.get_username() if a.owner_user_id else None,
                "owner_team": a.owner_team.name if a.owner_team_id else None,
                "closed_by": a.closed_by.get_username() if a.closed_by_id else None,
                # Not shown in a diff: which stored item this is, so a restore or an API
                # change keeps the item (and what refers to it) rather than making a new one.
                "id": a.pk,
            }
            for a in incident.action_items.select_related(
                "leverage_level", "pattern", "owner_user", "owner_team", "closed_by"
            )
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


# Datetimes pass through the line diff wrapped in two private-use characters (which no review
# text contains), so the rendered diff can show each as a <time> in the reader's time zone.
_MOMENT = re.compile("\ue000([^\ue000\ue001]{1,64})\ue001")
# The snapshot keys a section shows, where they are not just the section's own key.
SECTION_KEYS = {"times": tuple(TIME_FIELDS), "perrow": ("complexity", "coupling")}
# Keys snapshots hold only since they were added: a snapshot without one says nothing about
# it, so a diff against it leaves the section out rather than showing a change nobody made.
RECORDED_LATER = {"timeline_names_allowed"}
TIME_LABELS = {"started_at": "Started", "detected_at": "Detected", "mitigated_at": "Mitigated",
               "resolved_at": "Resolved"}  # fmt: skip
NONE = "—"


def _moment(value: str | None) -> str:
    return f"\ue000{value}\ue001" if value else NONE


def _day(value: str | None) -> str:
    day = parse_date(value) if isinstance(value, str) else None
    return f"{day.day} {day:%b %Y}" if day else (value or NONE)


def _label(choices: type[models.TextChoices], value: Any) -> str:
    """A stored code in people's words; a code no longer offered shows as it was stored."""
    try:
        return str(choices(value).label)
    except ValueError:
        return NONE if value in (None, "") else str(value)


class _Names:
    """What the slugs in two snapshots are called, each kind read once and only if a
    section that shows it changed."""

    def __init__(self, *snaps: dict[str, Any]) -> None:
        self.snaps = snaps

    @cached_property
    def patterns(self) -> dict[str, str]:
        from taxonomy.models import StructuralPattern

        slugs = {p.get("slug") for snap in self.snaps for p in snap.get("patterns", [])}
        slugs |= {a.get("pattern") for snap in self.snaps for a in snap.get("actions", [])}
        found = StructuralPattern.objects.filter(slug__in=slugs - {None})
        return dict(found.values_list("slug", "name"))

    @cached_property
    def levels(self) -> dict[str, str]:
        from taxonomy.models import LeverageLevel

        slugs = {a.get("leverage_level") for snap in self.snaps for a in snap.get("actions", [])}
        return {level.slug: str(level) for level in LeverageLevel.objects.filter(slug__in=slugs)}

    @cached_property
    def shapes(self) -> dict[str, str]:
        from taxonomy.models import EmergentShape

        slugs = {slug for snap in self.snaps for slug in snap.get("shapes", [])}
        return dict(EmergentShape.objects.filter(slug__in=slugs).values_list("slug", "name"))

    @cached_property
    def perrow(self) -> dict[str, dict[int, str]]:
        from taxonomy.catalogue import perrow_axes

        return {
            axis["slug"]: {level["score"]: level["label"] for level in axis["levels"]}
            for axis in perrow_axes()
        }

    def perrow_line(self, label: str, axis: str, score: int | None) -> str:
        if score is None:
            return f"{label}: not scored"
        meaning = self.perrow.get(axis, {}).get(score)
        return f"{label}: {score} of 5" + (f" — {meaning}" if meaning else "")


class _SlugsAsNames(_Names):
    """Every slug stands for itself: a section's lines, compared without reading names."""

    patterns = levels = shapes = {}
    perrow: dict[str, dict[int, str]] = {}

    def __init__(self) -> None:
        self.snaps = ()


_SLUGS = _SlugsAsNames()


def _action_line(a: dict[str, Any], names: _Names) -> str:
    # Every stored attribute of an item is on its line: a change to any of them (a due date
    # lost, a tracker link edited) must show in the diff, not only a new title.
    level, pattern = a.get("leverage_level"), a.get("pattern")
    return (
        f"{a['title']} — Status: {_label(ActionItem.Status, a.get('status'))}; "
        f"Kind: {_label(ActionItem.Kind, a.get('kind'))}; Owner: {a.get('owner') or NONE}; "
        f"Due: {_day(a.get('due'))}; "
        f"Leverage level: {names.levels.get(level, level) if level else NONE}; "
        f"Pattern: {names.patterns.get(pattern, pattern) if pattern else NONE}; "
        f"Tracker: {a.get('tracker_url') or NONE}; Completed: {_moment(a.get('completed_at'))}"
        # Left out while empty, so a revision saved before owners could be people or teams
        # reads the same as one saved since without them.
        + (f"; Owned by {a['owner_user']}" if a.get("owner_user") else "")
        + (f"; Owned by team {a['owner_team']}" if a.get("owner_team") else "")
        + (f"; Closed by {a['closed_by']}" if a.get("closed_by") else "")
    )


def _section_lines(snap: dict[str, Any], section: str, names: _Names) -> list[str]:
    """One section of a snapshot as lines of text in people's words, for a line diff."""
    if section == "status":
        return [_label(Incident.Status, snap.get("status"))]
    if section == "severity":
        return [_label(Incident.Severity, snap.get("severity"))]
    if section in TEXT_FIELDS:
        return (snap.get(section) or "").splitlines()
    if section == "times":
        return [f"{TIME_LABELS[name]}: {_moment(snap.get(name))}" for name in TIME_FIELDS]
    if section == "users_affected_count":
        count = snap.get("users_affected_count")
        return ["Not known" if count is None else f"{count:,}"]
    if section == "perrow":
        return [
            names.perrow_line("Interactive complexity", "interactive-complexity",
                              snap.get("complexity")),
            names.perrow_line("Coupling", "coupling", snap.get("coupling")),
        ]  # fmt: skip
    if section == "timeline":
        return [
            f"{_moment(e.get('occurred_at'))} · {_label(TimelineEvent.Kind, e.get('kind'))} · "
            f"{e['text']}"
            + (
                f" — Why it looked right at the time: {e['why_reasonable']}"
                if e.get("why_reasonable")
                else ""
            )
            for e in snap.get("timeline", [])
        ]
    if section == "actions":
        return [_action_line(a, names) for a in snap.get("actions", [])]
    if section == "timeline_names_allowed":
        if snap.get(section):
            return ["Kept: each imported message shows who wrote it"]
        return ["Left out: each person is shown by their role"]
    if section == "restricted_to":
        from django.contrib.auth.models import Group

        group_id = snap.get("restricted_to")
        if not group_id:
            return ["Everyone who may read reviews"]
        name = Group.objects.filter(pk=group_id).values_list("name", flat=True).first()
        return [f"Only group {name or f'#{group_id} (deleted)'}"]
    if section == "patterns":
        return [
            f"{names.patterns.get(p['slug'], p['slug'])}: {p['rationale']}"
            for p in snap.get("patterns", [])
        ]
    if section == "shapes":
        return [names.shapes.get(slug, slug) for slug in snap.get("shapes", [])]
    return [str(item) for item in snap.get(section, [])]


def _time_html(value: str) -> str:
    """A stored moment as a <time> in UTC, which static/seams-page.js shows in local time."""
    moment = parse_datetime(value)
    if moment is None:
        return escape(value)
    utc = moment.astimezone(UTC)
    precise = utc.second or utc.microsecond
    text = f"{utc.day} {utc:%b %Y, %H:%M{':%S' if precise else ''}} UTC"
    return (
        f'<time datetime="{escape(utc.isoformat())}" '
        f'data-local="{"seconds" if precise else "minutes"}">{text}</time>'
    )


def _line_html(text: str) -> str:
    return _MOMENT.sub(lambda found: _time_html(found.group(1)), escape(text))


@dataclass(frozen=True)
class SectionDiff:
    """How one section changed between two revisions."""

    name: str
    html: SafeString


def diff_snapshots(old: dict[str, Any], new: dict[str, Any]) -> list[SectionDiff]:
    """The sections that differ, each as an HTML table of removed and added lines.

    Every line is escaped before it is wrapped in markup: revision text is user input.
    """
    names = _Names(old, new)
    diffs = []
    for key, name in SECTIONS:
        stored = SECTION_KEYS.get(key, (key,))
        if all(old.get(k) == new.get(k) for k in stored):
            continue  # the same stored values read the same
        if key in RECORDED_LATER and not (key in old and key in new):
            continue
        # Lines with slugs for names tell whether anything shown changed, without a query.
        if _section_lines(old, key, _SLUGS) == _section_lines(new, key, _SLUGS):
            continue
        before, after = _section_lines(old, key, names), _section_lines(new, key, names)
        rows = []
        for line in difflib.ndiff(before, after):
            tag, text = line[:2], _line_html(line[2:])
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
