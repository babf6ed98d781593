"""Recurrence reports: for a window (and filters), which structures keep hurting, whether
what was done about them worked, where risk concentrates, compared with the window before.

`build_snapshot` is a plain function over the database; the job stores its result as an
immutable snapshot. A snapshot is built for one viewer: every figure, name and list in it
comes only from incidents that viewer may see (a restricted review's count is its content
too). `scope_group_ids` says which restricted groups contributed, so that the stored report
opens only for people in all of them.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
)
from django.utils import timezone

from incidents.models import (
    ActionItem,
    Component,
    Incident,
    PatternLink,
    RecurrenceMembership,
    RecurringStructure,
)
from incidents.permissions import visible_components
from incidents.selectors import memberships_as_seen
from taxonomy.catalogue import catalogue_version
from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern

from .concentration import dependency_closure, hotspots

# 2: built for one viewer from what they may see (1 counted restricted reviews for everyone).
SNAPSHOT_SCHEMA_VERSION = 2
MAX_STRUCTURES = 25


@dataclass(frozen=True)
class ReportParams:
    """What a report covers: a window [since, until) and optional filters."""

    since: datetime
    until: datetime
    component: str | None = None  # component slug
    include_dependents: bool = True  # also incidents in components that depend on it
    severity: str | None = None
    shape: str | None = None
    pattern: str | None = None

    def previous(self) -> ReportParams:
        """The window of the same length just before this one."""
        length = self.until - self.since
        return ReportParams(**{**asdict(self), "since": self.since - length, "until": self.since})

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"], data["until"] = self.since.isoformat(), self.until.isoformat()
        return data


def _components_for(slug: str, include_dependents: bool) -> list[int]:
    component = Component.objects.filter(slug=slug).first()
    if component is None:
        return []
    ids = {component.pk}
    if include_dependents:
        # Reverse edges: what depends on the component, directly or further up.
        dependents: dict[int, set[int]] = defaultdict(set)
        for source, target in Component.depends_on.through.objects.values_list(
            "from_component_id", "to_component_id"
        ):
            dependents[target].add(source)
        ids |= dependency_closure(dependents, component.pk, depth=5)
    return sorted(ids)


Viewer = AbstractBaseUser | AnonymousUser


def incidents_in(params: ReportParams, viewer: Viewer) -> QuerySet[Incident]:
    """The incidents the viewer may see that the window and filters select."""
    incidents = Incident.objects.visible_to(viewer).filter(
        started_at__gte=params.since, started_at__lt=params.until
    )
    joined = False  # a filter across a to-many relation can repeat rows: then DISTINCT
    if params.severity:
        incidents = incidents.filter(severity=params.severity)
    if params.shape:
        incidents, joined = incidents.filter(shapes__slug=params.shape), True
    if params.pattern:
        incidents, joined = incidents.filter(pattern_links__pattern__slug=params.pattern), True
    if params.component:
        ids = _components_for(params.component, params.include_dependents)
        incidents, joined = incidents.filter(components__in=ids), True
    return incidents.distinct() if joined else incidents


@dataclass(frozen=True)
class WindowIncident:
    """The few columns of an incident that a report uses (not its long texts)."""

    title: str
    started_at: datetime | None
    resolved_at: datetime | None
    severity: str
    status: str
    restricted: bool
    complexity: int | None
    coupling: int | None

    @property
    def hours(self) -> float:
        """Incident-hours: resolved − started, when both are known."""
        if self.started_at and self.resolved_at:
            return max((self.resolved_at - self.started_at).total_seconds() / 3600, 0)
        return 0.0


def window_incidents(window: QuerySet[Incident]) -> dict[int, WindowIncident]:
    """The window's incidents by id, in one query of short columns."""
    columns = ("title", "started_at", "resolved_at", "severity", "status", "restricted_to_id",
               "complexity", "coupling")  # fmt: skip
    return {
        pk: WindowIncident(title, started, resolved, severity, status, restricted is not None,
                           complexity, coupling)
        for pk, title, started, resolved, severity, status, restricted, complexity, coupling
        in window.order_by().values_list("pk", *columns)
    }  # fmt: skip


_NUMBER = re.compile(r"\d[\d,. ]*")


def users_from_text(text: str) -> int | None:
    """The first number in a free-text "users affected" field, if there is one."""
    match = _NUMBER.search(text or "")
    if not match:
        return None
    digits = re.sub(r"[^\d]", "", match.group(0).split(".")[0])
    scale = 1
    rest = text[match.end() : match.end() + 12].lower()
    if rest.startswith((" million", "m ")):
        scale = 1_000_000
    elif rest.startswith((" thousand", "k ")):
        scale = 1_000
    return int(digits) * scale if digits else None


def _recurring_for(visible: QuerySet) -> QuerySet:
    """Ids of the structures with two or more incidents among `visible`."""
    return (
        RecurrenceMembership.objects.filter(incident__in=visible)
        .values("structure_id")
        .annotate(members=Count("pk"))
        .filter(members__gte=2)
        .values("structure_id")
    )


def headline(incidents: QuerySet[Incident], visible: QuerySet) -> dict[str, Any]:
    """Counts for one window: incidents, incident-hours, users affected (where known),
    structures that recurred in it, and the share of incidents in a recurring structure.
    `visible` (ids of what the viewer may see) bounds what "recurring" and "recurred" rest
    on: a structure that recurs only through a restricted review does not count."""
    ids = incidents.order_by().values("pk")
    duration = ExpressionWrapper(F("resolved_at") - F("started_at"), output_field=DurationField())
    totals = (
        Incident.objects.filter(pk__in=ids)
        .annotate(duration=duration)
        .aggregate(hours=Sum("duration"), count=Count("pk"))
    )
    users = [
        users_from_text(text)
        for text in Incident.objects.filter(pk__in=ids)
        .exclude(users_affected="")
        .values_list("users_affected", flat=True)
    ]
    known = [u for u in users if u is not None]
    count, total = totals["count"], totals["hours"]
    in_structure = (
        RecurrenceMembership.objects.filter(
            incident__in=ids, structure_id__in=_recurring_for(visible)
        )
        .values("incident_id")
        .distinct()
        .count()
    )
    recurred = (
        RecurrenceMembership.objects.filter(incident__in=ids)
        .filter(_has_earlier_visible(visible))
        .values("structure_id")
        .distinct()
        .count()
    )
    return {
        "incidents": count,
        "incident_hours": round(total.total_seconds() / 3600, 1) if total else 0.0,
        "users_affected": sum(known) if known else None,
        "users_affected_known_for": len(known),
        "structures_recurred": recurred,
        "share_in_recurring_structure": round(in_structure / count, 3) if count else 0.0,
    }


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _delta(now: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    return {
        k: round(now[k] - before[k], 3) if _numbers(now[k], before.get(k)) else None
        for k in now
    }  # fmt: skip


MAX_ACTIONS_LISTED = 20


def _has_earlier_visible(visible: QuerySet) -> Exists:
    """For a membership row: does its structure have a visible member before it? (Its
    stored `previous` may be a restricted review; the viewer's recurrence rests only on
    what they may see.)"""
    return Exists(
        RecurrenceMembership.objects.filter(
            Q(occurred_at__lt=OuterRef("occurred_at"))
            | Q(occurred_at=OuterRef("occurred_at"), incident_id__lt=OuterRef("incident_id")),
            structure_id=OuterRef("structure_id"),
            incident__in=visible,
        )
    )


def structures_section(
    window: QuerySet[Incident],
    incidents: dict[int, WindowIncident],
    visible: QuerySet,
    since: datetime,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Structures with a recurrence in the window, ranked by incident-hours in it.

    Every figure comes from the members the viewer may see (`visible`, a subquery of
    ids), in the window or before it: their number, first sighting, remediation, components
    and open actions. A handful of aggregate queries over all structures at once, not a loop
    of queries per structure: at 100,000 incidents a structure can have tens of thousands of
    members. The per-structure lists are fetched only for the structures the report keeps.
    """
    window_pks = window.order_by().values("pk")
    in_window: dict[int, list[tuple[int, datetime, bool]]] = defaultdict(list)
    recurred: set[int] = set()
    for (
        structure_id,
        incident_id,
        occurred_at,
        after_remediation,
        previous_visible,
    ) in (
        # "After remediation" judges the action items of the member just before among those
        # the viewer may see (the stored one may be hidden, and with it its action items),
        # exactly as the recurrences page and API do.
        memberships_as_seen(visible)
        .filter(incident__in=window_pks)
        .values_list(
            "structure_id",
            "incident_id",
            "occurred_at",
            "reader_after_remediation",
            "reader_previous_id",
        )
    ):
        in_window[structure_id].append((incident_id, occurred_at, after_remediation))
        if previous_visible is not None:
            recurred.add(structure_id)
    if not recurred:
        return [], []
    structures = {
        s.pk: s
        for s in RecurringStructure.objects.filter(pk__in=recurred).prefetch_related(
            Prefetch("patterns", queryset=StructuralPattern.objects.only("pk", "name"))
        )
    }
    totals = {
        row["structure_id"]: row
        for row in RecurrenceMembership.objects.filter(
            structure_id__in=recurred, incident__in=visible
        )
        .values("structure_id")
        .annotate(members=Count("pk"), first_seen=Min("occurred_at"))
        .order_by()
    }
    kinds: dict[int, set[str]] = defaultdict(set)
    for structure_id, kind in (
        ActionItem.objects.filter(
            incident__recurrence_memberships__structure_id__in=recurred, incident__in=visible
        )
        .values_list("incident__recurrence_memberships__structure_id", "kind")
        .order_by()
        .distinct()
    ):
        kinds[structure_id].add(kind)

    rows, patch_only = [], []
    for pk, structure in structures.items():
        members = sorted(in_window[pk], key=lambda m: (m[1], m[0]))
        names = [p.name for p in structure.patterns.all()] or [structure.signature]
        if kinds[pk] == {ActionItem.Kind.COMPONENT_PATCH}:
            patch_only.append(" + ".join(names))
        first_seen = totals[pk]["first_seen"]
        if any(after for _, _, after in members):
            status = "recurred despite remediation"
        elif first_seen and first_seen >= since:
            status = "new"
        else:
            status = "continuing"
        rows.append(
            {
                "signature": structure.signature,
                "patterns": names,
                "status": status,
                "incidents_in_window": len(members),
                "incidents_in_total": totals[pk]["members"],
                "incident_hours_in_window": round(sum(incidents[m[0]].hours for m in members), 1),
                "incidents": [
                    {"id": i, "title": incidents[i].title, "started_at": at.isoformat()}
                    for i, at, _ in members
                ],
                # Kept for the snapshot's schema: a snapshot is built for its viewer, so it
                # lists every member it counts.
                "hidden_incidents": 0,
                "_pk": pk,
            }
        )
    rows.sort(
        key=lambda r: (-r["incident_hours_in_window"], -r["incidents_in_window"], r["signature"])
    )
    rows = rows[:MAX_STRUCTURES]
    kept = [r["_pk"] for r in rows]
    # Components and open structural actions come from every member the viewer may see,
    # in the window or before it.
    component_names = dict(Component.objects.values_list("pk", "name"))
    components: dict[int, set[str]] = defaultdict(set)
    for structure_id, component_id in (
        Incident.components.through.objects.filter(
            incident__recurrence_memberships__structure_id__in=kept, incident__in=visible
        )
        .values_list("incident__recurrence_memberships__structure_id", "component_id")
        .order_by()
        .distinct()
    ):
        components[structure_id].add(component_names[component_id])
    open_actions: dict[int, list[str]] = defaultdict(list)
    for structure_id, title in (
        ActionItem.objects.filter(
            incident__recurrence_memberships__structure_id__in=kept,
            incident__in=visible,
            kind=ActionItem.Kind.STRUCTURAL_FIX,
        )
        .exclude(status__in=[ActionItem.Status.DONE, ActionItem.Status.WONT_DO])
        .values_list("incident__recurrence_memberships__structure_id", "title")
        .order_by("title")
        .distinct()
    ):
        if len(open_actions[structure_id]) < MAX_ACTIONS_LISTED:
            open_actions[structure_id].append(title)
    for row in rows:
        pk = row.pop("_pk")
        row["components"] = sorted(components[pk])
        row["open_structural_actions"] = open_actions[pk]
    return rows, sorted(patch_only)


def remediation_section(window: QuerySet[Incident]) -> dict[str, Any]:
    """Action items of the window's incidents by leverage level, kind and done/open."""
    levels = {lvl.pk: lvl for lvl in LeverageLevel.objects.all()}
    done_status = ActionItem.Status.DONE
    counts = (
        ActionItem.objects.filter(incident__in=window.order_by().values("pk"))
        .values("leverage_level_id", "kind")
        .annotate(done=Count("pk", filter=Q(status=done_status)), total=Count("pk"))
        .order_by()
    )
    rows = []
    for row in counts:
        level = levels.get(row["leverage_level_id"])
        for state, n in (("done", row["done"]), ("open", row["total"] - row["done"])):
            if n:
                rows.append(
                    {
                        "leverage_number": level.number if level else None,
                        "leverage_level": level.name if level else "not recorded",
                        "kind": row["kind"],
                        "state": state,
                        "count": n,
                    }
                )
    rows.sort(key=lambda r: (-(r["leverage_number"] or 0), r["kind"], r["state"]))
    totals = Counter()
    for r in rows:
        totals[r["kind"]] += r["count"]
    return {"by_level": rows, "totals_by_kind": dict(totals)}


def shapes_and_perrow(
    window: QuerySet[Incident], incidents: dict[int, WindowIncident], visible_ids: set[int]
) -> dict[str, Any]:
    """Shape counts per month, and incidents placed on Perrow's map."""
    months: dict[str, Counter] = defaultdict(Counter)
    shapes = dict(EmergentShape.objects.values_list("pk", "slug"))
    for incident_id, shape_id in Incident.shapes.through.objects.filter(
        incident__in=window.order_by().values("pk")
    ).values_list("incident_id", "emergentshape_id"):
        started = incidents[incident_id].started_at
        months[started.strftime("%Y-%m")][shapes[shape_id]] += 1
    cells: Counter = Counter()
    points = []
    for pk, row in incidents.items():
        if row.complexity is None or row.coupling is None:
            continue
        cells[(row.complexity, row.coupling)] += 1
        if pk in visible_ids:
            points.append(
                {"id": pk, "title": row.title, "complexity": row.complexity,
                 "coupling": row.coupling}
            )  # fmt: skip
    return {
        "shape_mix": [{"month": m, **dict(c)} for m, c in sorted(months.items())],
        "perrow_cells": [
            {"complexity": x, "coupling": y, "count": n} for (x, y), n in sorted(cells.items())
        ],
        "perrow_points": points,
    }


def _slugs_by_incident(through: QuerySet, column: str, ids: QuerySet) -> dict[int, list[str]]:
    """{incident id: [slug, …]} for a link table, in one query."""
    out: dict[int, list[str]] = defaultdict(list)
    for incident_id, slug in (
        through.filter(incident__in=ids).values_list("incident_id", column).order_by("pk")
    ):
        out[incident_id].append(slug)
    return out


def build_snapshot(*, params: ReportParams, viewer: Viewer) -> dict[str, Any]:
    """Everything a report shows, as JSON-ready data (see the OpenAPI schema), made only of
    what `viewer` may see: counts, hours, users affected, structures, hotspots, all of it."""
    visible = Incident.objects.visible_to(viewer).order_by().values("pk")
    window = incidents_in(params, viewer)
    incidents = window_incidents(window)
    visible_ids = set(incidents)
    current = headline(window, visible)
    before = headline(incidents_in(params.previous(), viewer), visible)
    structures, patch_only = structures_section(window, incidents, visible, params.since)
    window_pks = window.order_by().values("pk")
    shapes = _slugs_by_incident(Incident.shapes.through.objects, "emergentshape__slug", window_pks)
    patterns = _slugs_by_incident(PatternLink.objects, "pattern__slug", window_pks)
    listed = sorted(
        visible_ids, key=lambda pk: (incidents[pk].started_at is None, incidents[pk].started_at, pk)
    )
    # A hotspot reached through a dependency can be a component only hidden reviews use.
    known = set(visible_components(viewer).values_list("pk", flat=True))
    return {
        "schema_version": SNAPSHOT_SCHEMA_VERSION,
        "generated_at": timezone.now().isoformat(),
        "params": params.to_json(),
        "previous_window": {
            "since": params.previous().since.isoformat(),
            "until": params.since.isoformat(),
        },
        "catalogue_version": catalogue_version(),
        # Kept for the snapshot's schema; always 0 since snapshots are built per viewer.
        "restricted_counted_not_shown": 0,
        "headline": current,
        "previous_headline": before,
        "change": _delta(current, before),
        "structures": structures,
        "component_patch_only_structures": patch_only,
        "remediation": remediation_section(window),
        "hotspots": [
            {"component": h.component.name, "incidents": h.incident_count,
             "direct": len(h.direct), "via_dependency": len(h.via_dependency)}
            for h in hotspots(incidents=window, limit=10) if h.component.pk in known
        ],
        **shapes_and_perrow(window, incidents, visible_ids),
        "incidents": [
            {
                "id": pk,
                "title": incidents[pk].title,
                "started_at": incidents[pk].started_at.isoformat()
                if incidents[pk].started_at else None,
                "severity": incidents[pk].severity,
                "status": incidents[pk].status,
                "hours": round(incidents[pk].hours, 1),
                "shapes": shapes.get(pk, []),
                "patterns": patterns.get(pk, []),
                "restricted": incidents[pk].restricted,
            }
            for pk in listed
        ],
    }  # fmt: skip


def scope_group_ids(*, params: ReportParams, viewer: Viewer) -> set[int]:
    """The restricted groups whose incidents contributed anything to the viewer's snapshot —
    a count, an hour, a component name: those in either window, and every visible member of
    a structure one of them belongs to. A stored report opens only for people in all of
    them (`Report.scope_groups`). Erring wide only hides a report, never leaks one."""
    windows = incidents_in(params, viewer) | incidents_in(params.previous(), viewer)
    window_pks = windows.order_by().values("pk")
    structures = RecurrenceMembership.objects.filter(incident__in=window_pks).values("structure_id")
    members = RecurrenceMembership.objects.filter(structure_id__in=structures).values("incident_id")
    return set(
        Incident.objects.visible_to(viewer)
        .filter(Q(pk__in=window_pks) | Q(pk__in=members), restricted_to__isnull=False)
        .order_by()
        .values_list("restricted_to_id", flat=True)
        .distinct()
    )


# --- the page ---------------------------------------------------------------------------------

PAGE_INCIDENTS = 100
PAGE_STRUCTURE_INCIDENTS = 10
PAGE_COMPONENTS = 30


def page_view(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The part of a snapshot the report page shows, stored beside it when it is made.

    A year of a large organisation is a snapshot of megabytes (every incident, every
    component of a structure); the page reads this trimmed copy instead, and the exports
    carry everything. The long lists are cut, and each says how long it was.
    """
    page = {k: v for k, v in snapshot.items() if k not in {"incidents", "perrow_points"}}
    page["incidents"] = snapshot["incidents"][:PAGE_INCIDENTS]
    page["incidents_more"] = max(len(snapshot["incidents"]) - PAGE_INCIDENTS, 0)
    page["structures"] = [
        {
            **structure,
            "incidents": structure["incidents"][:PAGE_STRUCTURE_INCIDENTS],
            "incidents_more": max(len(structure["incidents"]) - PAGE_STRUCTURE_INCIDENTS, 0),
            "components": structure["components"][:PAGE_COMPONENTS],
            "components_more": max(len(structure["components"]) - PAGE_COMPONENTS, 0),
        }
        for structure in snapshot["structures"]
    ]
    return page


# --- exports ----------------------------------------------------------------------------------

TABLES = {
    "headline": lambda s: [
        {"figure": k, "this_window": v, "previous_window": s["previous_headline"].get(k),
         "change": s["change"].get(k)}
        for k, v in s["headline"].items()
    ],
    "structures": lambda s: [
        {**{k: v for k, v in r.items() if k not in {"incidents", "patterns", "components",
                                                     "open_structural_actions"}},
         "patterns": " + ".join(r["patterns"]), "components": "; ".join(r["components"]),
         "incidents": "; ".join(i["title"] for i in r["incidents"]),
         "open_structural_actions": "; ".join(r["open_structural_actions"])}
        for r in s["structures"]
    ],
    "remediation": lambda s: s["remediation"]["by_level"],
    "hotspots": lambda s: s["hotspots"],
    "shape_mix": lambda s: s["shape_mix"],
    "perrow": lambda s: s["perrow_cells"],
    "incidents": lambda s: [
        {**i, "shapes": " ".join(i["shapes"]), "patterns": " ".join(i["patterns"])}
        for i in s["incidents"]
    ],
}  # fmt: skip


def to_csv(snapshot: dict[str, Any], table: str) -> str:
    """One table of the snapshot as CSV."""
    rows = TABLES[table](snapshot)
    out = io.StringIO()
    if rows:
        fields = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


def to_zip(snapshot: dict[str, Any]) -> bytes:
    """Every table as its own CSV file, in one zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in TABLES:
            archive.writestr(f"{table}.csv", to_csv(snapshot, table))
    return buffer.getvalue()


def _md_escape(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _row(*cells: Any) -> str:
    return "| " + " | ".join(_md_escape(c) for c in cells) + " |"


def to_markdown(snapshot: dict[str, Any]) -> str:
    """The report as a Markdown document, for a planning doc or a wiki."""
    p, before = snapshot["params"], snapshot["previous_window"]
    lines = [
        f"# Recurrence report {p['since'][:10]} – {p['until'][:10]}",
        "",
        f"Generated {snapshot['generated_at'][:16]} UTC; catalogue version "
        f"`{snapshot['catalogue_version']}`; compared with "
        f"{before['since'][:10]} – {before['until'][:10]}.",
    ]
    if snapshot["restricted_counted_not_shown"]:
        lines.append(
            f"{snapshot['restricted_counted_not_shown']} restricted incidents are counted in the "
            "figures but not shown."
        )
    lines += [
        "",
        "## Headline",
        "",
        "| Figure | This window | Previous | Change |",
        "|---|---|---|---|",
    ]
    for row in TABLES["headline"](snapshot):
        lines.append(
            _row(
                row["figure"].replace("_", " "),
                row["this_window"],
                row["previous_window"],
                row["change"],
            )
        )
    lines += ["", "## Recurring structures", ""]
    for r in snapshot["structures"]:
        lines.append(f"### {' + '.join(r['patterns'])} — {r['status']}")
        lines.append(
            f"{r['incidents_in_window']} incidents in the window "
            f"({r['incident_hours_in_window']} h), {r['incidents_in_total']} in all. "
            f"Components: {', '.join(r['components']) or '—'}."
        )
        for i in r["incidents"]:
            lines.append(f"- {_md_escape(i['title'])} ({i['started_at'][:10]})")
        if r["open_structural_actions"]:
            lines.append(
                "Open structural actions: "
                + "; ".join(map(_md_escape, r["open_structural_actions"]))
            )
        lines.append("")
    if not snapshot["structures"]:
        lines += ["No structure recurred in this window.", ""]
    if snapshot["component_patch_only_structures"]:
        lines += [
            "Structures that only ever received component patches: "
            + ", ".join(snapshot["component_patch_only_structures"]),
            "",
        ]
    lines += [
        "## Remediation depth",
        "",
        "| Leverage level | Kind | State | Count |",
        "|---|---|---|---|",
    ]
    for r in snapshot["remediation"]["by_level"]:
        lines.append(_row(r["leverage_level"], r["kind"].replace("_", " "), r["state"], r["count"]))
    lines += [
        "",
        "## Concentration hotspots",
        "",
        "| Component | Incidents | Direct | Via a dependency |",
        "|---|---|---|---|",
    ]
    for h in snapshot["hotspots"]:
        lines.append(_row(h["component"], h["incidents"], h["direct"], h["via_dependency"]))
    lines += ["", "## Incidents", ""]
    for i in snapshot["incidents"]:
        when = (i["started_at"] or "")[:10]
        lines.append(f"- {when} {_md_escape(i['title'])} ({i['severity']}, {i['hours']} h)")
    return "\n".join(lines) + "\n"
