"""Recurrence reports: for a window (and filters), which structures keep hurting, whether
what was done about them worked, where risk concentrates, compared with the window before.

`build_snapshot` is a plain function over the database; the job stores its result as an
immutable snapshot. A snapshot is built for one viewer: every figure, name and list in it
comes only from incidents that viewer may see (a restricted review's count is its content
too). `scope_group_ids` says which restricted groups contributed, so that the stored report
opens only for people in all of them.

Every figure a lead may be asked about can be traced: `figures` maps each one to the ids of
the incidents behind it, and the report page links the number to the list of exactly those
incidents with the values the figure sums (`reports.views.figure_incidents`). Costs are
those of `incidents.analysis.cost`: severity-weighted incident-hours (capped per incident)
and the structured number of users affected; an incident whose severity, end or number is
unknown is counted apart, never as zero. An incident without a date is in no window: it is
counted as "date unknown" beside the window's figures.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from incidents.analysis.concentration import dependency_closure, hotspots
from incidents.analysis.cost import (
    HOURS_CAP,
    SEVERITY_WEIGHTS,
    incident_hours,
    severity_weight,
    total_cost,
    weighted_hours,
)
from incidents.models import (
    ActionItem,
    Component,
    Incident,
    PatternLink,
    RecurrenceMembership,
    RecurringStructure,
)
from incidents.permissions import visible_components
from incidents.selectors import memberships_seen
from taxonomy.catalogue import catalogue_version
from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern

# 3: costs from incidents.analysis.cost, figures traceable to their incidents, labels
# beside codes, all-time windows, undated incidents counted apart.
SNAPSHOT_SCHEMA_VERSION = 3
MAX_STRUCTURES = 25

SEVERITY_LABELS = dict(Incident.Severity.choices)
STATUS_LABELS = dict(Incident.Status.choices)
KIND_LABELS = dict(ActionItem.Kind.choices)
STATE_LABELS = {"done": "Done", "open": "Not done"}


@dataclass(frozen=True)
class ReportParams:
    """What a report covers: a window [since, until), or all time when both are None, and
    optional filters."""

    since: datetime | None = None
    until: datetime | None = None
    component: str | None = None  # component slug
    include_dependents: bool = True  # also incidents in components that depend on it
    severity: str | None = None
    shape: str | None = None
    pattern: str | None = None

    def __post_init__(self) -> None:
        if (self.since is None) != (self.until is None):
            raise ValueError("A window needs both ends, or neither for all time.")

    @property
    def all_time(self) -> bool:
        return self.since is None

    def previous(self) -> ReportParams | None:
        """The window of the same length just before this one (none before all time)."""
        if self.all_time:
            return None
        length = self.until - self.since
        return ReportParams(**{**asdict(self), "since": self.since - length, "until": self.since})

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"] = self.since.isoformat() if self.since else None
        data["until"] = self.until.isoformat() if self.until else None
        return data


def window_label(since: str | None, until: str | None) -> str:
    """ "2025-01-01 – 2025-04-01", or "All time"."""
    return f"{since[:10]} – {until[:10]}" if since and until else "All time"


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


def _filtered(params: ReportParams, viewer: Viewer) -> QuerySet[Incident]:
    """The incidents the viewer may see that the filters (not the window) select."""
    incidents = Incident.objects.visible_to(viewer)
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


def incidents_in(params: ReportParams, viewer: Viewer) -> QuerySet[Incident]:
    """The dated incidents the viewer may see that the window and filters select. An
    incident without a date is in no window, not even all time's: see `undated_in`."""
    incidents = _filtered(params, viewer).filter(started_at__isnull=False)
    if not params.all_time:
        incidents = incidents.filter(started_at__gte=params.since, started_at__lt=params.until)
    return incidents


def undated_in(params: ReportParams, viewer: Viewer) -> QuerySet[Incident]:
    """The incidents the filters select whose date is unknown."""
    return _filtered(params, viewer).filter(started_at__isnull=True)


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
    users_affected: int | None

    @property
    def hours(self) -> float | None:
        """Incident-hours, capped (incidents.analysis.cost); None when an end is unknown."""
        return incident_hours(self.started_at, self.resolved_at)

    @property
    def weighted_hours(self) -> float | None:
        return weighted_hours(self.severity, self.started_at, self.resolved_at)

    def cost_row(self) -> tuple[str, datetime | None, datetime | None, int | None]:
        return (self.severity, self.started_at, self.resolved_at, self.users_affected)


def window_incidents(window: QuerySet[Incident]) -> dict[int, WindowIncident]:
    """The window's incidents by id (ascending), in one query of short columns."""
    columns = ("title", "started_at", "resolved_at", "severity", "status", "restricted_to_id",
               "complexity", "coupling", "users_affected_count")  # fmt: skip
    return {
        pk: WindowIncident(title, started, resolved, severity, status, restricted is not None,
                           complexity, coupling, users)
        for pk, title, started, resolved, severity, status, restricted, complexity, coupling, users
        in window.order_by("pk").values_list("pk", *columns)
    }  # fmt: skip


class Figures:
    """The incidents behind each figure of a snapshot: {key: {"title", "ids"}}."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    def add(self, key: str, title: str, ids) -> str:
        self.data[key] = {"title": title, "ids": sorted(ids)}
        return key


HEADLINE_TITLES = {
    "incidents": "Incidents",
    "weighted_hours": "Severity-weighted incident-hours",
    "weighted_hours_unknown": "Incidents left out of the weighted hours (severity or end unknown)",
    "users_affected": "Users affected (where a number was recorded)",
    "users_affected_unknown": "Incidents with no recorded number of users affected",
    "structures_recurred": "Structures that recurred",
    "in_recurring_structure": "Incidents in a recurring structure",
    "share_in_recurring_structure": "Share of incidents in a recurring structure",
    "date_unknown": "Incidents with no date (in no window)",
}
# What each headline figure links to: the incidents it counts or sums.
HEADLINE_LINKS = {
    "incidents": "incidents",
    "weighted_hours": "weighted_hours",
    "weighted_hours_unknown": "weighted_hours_unknown",
    "users_affected": "users_affected",
    "users_affected_unknown": "users_affected_unknown",
    "structures_recurred": "recurred",
    "in_recurring_structure": "in_recurring_structure",
    "share_in_recurring_structure": "in_recurring_structure",
    "date_unknown": "date_unknown",
}


def headline(
    incidents: dict[int, WindowIncident],
    window: QuerySet[Incident],
    viewer: Viewer,
    figures: Figures,
    prefix: str = "",
) -> dict[str, Any]:
    """Figures for one window, each with its incidents recorded in `figures` (under
    `prefix`): incidents, severity-weighted incident-hours and users affected (with the
    incidents each leaves out), the structures that recurred in it and the incidents in a
    recurring structure. What "recurring" and "recurred" rest on is what the viewer may
    see: a structure that recurs only through a restricted review does not count."""
    ids = window.order_by().values("pk")
    cost = total_cost(row.cost_row() for row in incidents.values())
    # Recurrence as docs/recurrence.md defines it, judged on what the reader may see.
    rows, seen = memberships_seen(viewer, RecurrenceMembership.objects.filter(incident__in=ids))
    recurred_rows = [(structure, incident) for structure, incident, link in rows if link.recurred]
    recurring = {pk for pk, structure in seen.items() if structure.recurs}
    in_structure = {incident for structure, incident, _ in rows if structure in recurring}
    known_hours = {pk for pk, row in incidents.items() if row.weighted_hours is not None}
    known_users = {pk for pk, row in incidents.items() if row.users_affected is not None}
    label = "previous window: " if prefix else ""
    add = figures.add
    add(f"{prefix}incidents", f"{label}Incidents", incidents)
    add(f"{prefix}weighted_hours", f"{label}{HEADLINE_TITLES['weighted_hours']}", known_hours)
    add(f"{prefix}weighted_hours_unknown", f"{label}{HEADLINE_TITLES['weighted_hours_unknown']}",
        set(incidents) - known_hours)  # fmt: skip
    add(f"{prefix}users_affected", f"{label}{HEADLINE_TITLES['users_affected']}", known_users)
    add(f"{prefix}users_affected_unknown", f"{label}{HEADLINE_TITLES['users_affected_unknown']}",
        set(incidents) - known_users)  # fmt: skip
    add(f"{prefix}recurred", f"{label}Incidents in which a structure recurred",
        {incident for _, incident in recurred_rows})  # fmt: skip
    add(f"{prefix}in_recurring_structure", f"{label}{HEADLINE_TITLES['in_recurring_structure']}",
        in_structure)  # fmt: skip
    count = cost.incidents
    return {
        "incidents": count,
        "weighted_hours": cost.weighted_hours,
        "weighted_hours_unknown": cost.weighted_hours_unknown,
        "users_affected": cost.users_affected,
        "users_affected_unknown": cost.users_affected_unknown,
        "structures_recurred": len({structure for structure, _ in recurred_rows}),
        "in_recurring_structure": len(in_structure),
        "share_in_recurring_structure": round(len(in_structure) / count, 3) if count else 0.0,
    }


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _delta(now: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any] | None:
    if before is None:
        return None
    return {
        k: round(now[k] - before[k], 3) if _numbers(now[k], before.get(k)) else None
        for k in now
    }  # fmt: skip


MAX_ACTIONS_LISTED = 20


def _structure_name(structure: RecurringStructure, patterns: list[str]) -> str:
    """The structure's own name, or its patterns' names for one made before names were kept."""
    return structure.name or " + ".join(patterns) or "Unnamed structure"


def structures_section(
    window: QuerySet[Incident],
    incidents: dict[int, WindowIncident],
    visible: QuerySet,
    viewer: Viewer,
    since: datetime | None,
    figures: Figures,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Structures with a recurrence in the window: those that recurred despite remediation
    first, then by severity-weighted incident-hours in the window.

    Every figure comes from the members the viewer may see (`visible`, a subquery of
    ids), in the window or before it: their number, first sighting, remediation, components
    and open actions. A handful of aggregate queries over all structures at once, not a loop
    of queries per structure: at 100,000 incidents a structure can have tens of thousands of
    members. The per-structure lists are fetched only for the structures the report keeps.
    """
    window_pks = window.order_by().values("pk")
    in_window: dict[int, list[tuple[int, datetime, bool]]] = defaultdict(list)
    recurred: set[int] = set()
    recurrences: dict[int, list[datetime]] = defaultdict(list)
    # Recurrence and "after remediation" as the viewer may know them: the stored ones may
    # rest on a hidden member's action items (`incidents.selectors`), exactly as the
    # recurrences page and API judge them.
    rows, seen = memberships_seen(
        viewer, RecurrenceMembership.objects.filter(incident__in=window_pks), "occurred_at"
    )
    for structure_id, incident_id, occurred_at, link in rows:
        in_window[structure_id].append((incident_id, occurred_at, link.after_remediation))
        if link.recurred:
            recurred.add(structure_id)
            recurrences[structure_id].append(occurred_at)
    if not recurred:
        return [], []
    structures = {
        s.pk: s
        for s in RecurringStructure.objects.filter(pk__in=recurred).prefetch_related(
            Prefetch("patterns", queryset=StructuralPattern.objects.only("pk", "name"))
        )
    }
    totals = {
        pk: {"members": seen[pk].incident_count, "first_seen": seen[pk].first_seen}
        for pk in recurred
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
        patterns = [p.name for p in structure.patterns.all()]
        name = _structure_name(structure, patterns)
        if kinds[pk] == {ActionItem.Kind.COMPONENT_PATCH}:
            patch_only.append(name)
        first_seen = totals[pk]["first_seen"]
        if any(after for _, _, after in members):
            status = "recurred despite remediation"
        elif first_seen and since and first_seen >= since:
            status = "new"
        else:
            status = "continuing"
        cost = total_cost(incidents[m[0]].cost_row() for m in members)
        rows.append(
            {
                "signature": structure.signature,
                "name": name,
                "kind": structure.get_kind_display(),
                "patterns": patterns,
                "status": status,
                "incidents_in_window": len(members),
                "incidents_in_total": totals[pk]["members"],
                "recurrences_in_window": len(recurrences[pk]),
                "last_recurred_at": max(recurrences[pk]).isoformat(),
                "weighted_hours_in_window": cost.weighted_hours,
                "weighted_hours_unknown": cost.weighted_hours_unknown,
                "users_affected_in_window": cost.users_affected,
                "users_affected_unknown": cost.users_affected_unknown,
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
        key=lambda r: (
            r["status"] != "recurred despite remediation",
            -r["weighted_hours_in_window"],
            -r["incidents_in_window"],
            r["name"],
        )
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
    for rank, row in enumerate(rows, 1):
        pk = row.pop("_pk")
        row["components"] = sorted(components[pk])
        row["open_structural_actions"] = open_actions[pk]
        row["figure"] = figures.add(
            f"structure_{rank}", f"{row['name']}: incidents in the window",
            [i["id"] for i in row["incidents"]],
        )  # fmt: skip
    return rows, sorted(patch_only)


def remediation_section(window: QuerySet[Incident], figures: Figures) -> dict[str, Any]:
    """Action items of the window's incidents by leverage level, kind and done/open; each
    row links to the incidents whose action items it counts."""
    levels = {lvl.pk: lvl for lvl in LeverageLevel.objects.all()}
    done_status = ActionItem.Status.DONE
    cells: dict[tuple, list[int]] = defaultdict(list)
    for level_id, kind, status, incident_id in ActionItem.objects.filter(
        incident__in=window.order_by().values("pk")
    ).values_list("leverage_level_id", "kind", "status", "incident_id"):
        cells[(level_id, kind, "done" if status == done_status else "open")].append(incident_id)
    rows = []
    for (level_id, kind, state), incident_ids in cells.items():
        level = levels.get(level_id)
        rows.append(
            {
                "leverage_number": level.number if level else None,
                "leverage_level": level.name if level else "Not recorded",
                "kind": kind,
                "kind_label": KIND_LABELS.get(kind, kind),
                "state": state,
                "state_label": STATE_LABELS[state],
                "count": len(incident_ids),
                "_ids": set(incident_ids),
            }
        )
    rows.sort(key=lambda r: (-(r["leverage_number"] or 0), r["kind"], r["state"]))
    totals: Counter = Counter()
    for n, r in enumerate(rows, 1):
        totals[r["kind"]] += r["count"]
        r["figure"] = figures.add(
            f"remediation_{n}",
            f"{r['leverage_level']}: {r['kind_label'].lower()} action items, "
            f"{r['state_label'].lower()} (their incidents)",
            r.pop("_ids"),
        )
    return {"by_level": rows, "totals_by_kind": dict(totals)}


def _bucket_of(span_days: float) -> str:
    """Months for up to two years, quarters up to six, years beyond: counts per bucket
    that are large enough to read as a trend instead of a row of zeros and ones."""
    if span_days <= 731:
        return "month"
    if span_days <= 6 * 366:
        return "quarter"
    return "year"


def _period(when: datetime, bucket: str) -> tuple[int, int]:
    if bucket == "month":
        return (when.year, when.month)
    if bucket == "quarter":
        return (when.year, (when.month - 1) // 3 + 1)
    return (when.year, 1)


def _next_period(period: tuple[int, int], bucket: str) -> tuple[int, int]:
    year, part = period
    last = {"month": 12, "quarter": 4, "year": 1}[bucket]
    return (year + 1, 1) if part == last else (year, part + 1)


def _period_label(period: tuple[int, int], bucket: str) -> str:
    year, part = period
    if bucket == "month":
        return datetime(year, part, 1, tzinfo=UTC).strftime("%b %Y")
    if bucket == "quarter":
        return f"Q{part} {year}"
    return str(year)


def shapes_and_perrow(
    window: QuerySet[Incident],
    incidents: dict[int, WindowIncident],
    params: ReportParams,
    figures: Figures,
) -> dict[str, Any]:
    """Incidents per shape per period (every period of the window, empty ones too), and the
    window's incidents placed on Perrow's map by name."""
    ordered = EmergentShape.objects.order_by("position", "slug")
    shapes = list(ordered.values_list("pk", "slug", "name"))
    dated = [row.started_at for row in incidents.values() if row.started_at]
    start = params.since or (min(dated) if dated else None)
    end = params.until or (max(dated) if dated else None)
    periods: list[dict[str, Any]] = []
    bucket = "month"
    by_shape: dict[int, set[int]] = defaultdict(set)
    if start and end:
        bucket = _bucket_of((end - start).total_seconds() / 86400)
        counts: dict[tuple[int, int], Counter] = defaultdict(Counter)
        for incident_id, shape_id in Incident.shapes.through.objects.filter(
            incident__in=window.order_by().values("pk")
        ).values_list("incident_id", "emergentshape_id"):
            counts[_period(incidents[incident_id].started_at, bucket)][shape_id] += 1
            by_shape[shape_id].add(incident_id)
        # `until` is exclusive: a window ending on 1 April has no April.
        last = _period(end if params.all_time else end - timedelta(microseconds=1), bucket)
        period = _period(start, bucket)
        while period <= last:
            periods.append(
                {"label": _period_label(period, bucket),
                 "counts": [counts[period][pk] for pk, _, _ in shapes]}
            )  # fmt: skip
            period = _next_period(period, bucket)
    shape_rows = [
        {"slug": slug, "name": name, "total": len(by_shape[pk]),
         "figure": figures.add(f"shape_{slug}", f"Incidents with the shape {name}", by_shape[pk])}
        for pk, slug, name in shapes
    ]  # fmt: skip
    cells: Counter = Counter()
    points = []
    for pk, row in incidents.items():
        if row.complexity is None or row.coupling is None:
            continue
        cells[(row.complexity, row.coupling)] += 1
        points.append(
            {"id": pk, "title": row.title, "complexity": row.complexity, "coupling": row.coupling}
        )
    points.sort(key=lambda p: (-p["complexity"], -p["coupling"], p["title"]))
    return {
        "shape_mix": {"bucket": bucket, "shapes": shape_rows, "periods": periods},
        "perrow_cells": [
            {"complexity": x, "coupling": y, "count": n} for (x, y), n in sorted(cells.items())
        ],
        "perrow_points": points,
        "perrow_unplaced": len(incidents) - len(points),
    }


def _names_by_incident(through: QuerySet, column: str, ids: QuerySet) -> dict[int, list[str]]:
    """{incident id: [name, …]} for a link table, in one query."""
    out: dict[int, list[str]] = defaultdict(list)
    for incident_id, name in (
        through.filter(incident__in=ids).values_list("incident_id", column).order_by("pk")
    ):
        out[incident_id].append(name)
    return out


def incident_row(pk: int, row: WindowIncident) -> dict[str, Any]:
    """One incident as a report lists it, with the values its figures sum."""
    hours, weighted = row.hours, row.weighted_hours
    return {
        "id": pk,
        "title": row.title,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "severity": row.severity,
        "severity_label": SEVERITY_LABELS.get(row.severity, row.severity),
        "status": row.status,
        "status_label": STATUS_LABELS.get(row.status, row.status),
        "hours": round(hours, 2) if hours is not None else None,
        "weight": severity_weight(row.severity),
        "weighted_hours": weighted,
        "users_affected": row.users_affected,
        "restricted": row.restricted,
    }


def _filters_described(params: ReportParams) -> list[str]:
    """The report's filters in words, for the page and the exports."""
    out = []
    if params.severity:
        out.append(f"Severity {SEVERITY_LABELS.get(params.severity, params.severity)}")
    if params.shape:
        name = EmergentShape.objects.filter(slug=params.shape).values_list("name", flat=True)
        out.append(f"Shape {name.first() or params.shape}")
    if params.pattern:
        name = StructuralPattern.objects.filter(slug=params.pattern).values_list("name", flat=True)
        out.append(f"Pattern {name.first() or params.pattern}")
    if params.component:
        name = Component.objects.filter(slug=params.component).values_list("name", flat=True)
        out.append(
            f"Component {name.first() or params.component}"
            + (" and what depends on it" if params.include_dependents else "")
        )
    return out


def build_snapshot(*, params: ReportParams, viewer: Viewer) -> dict[str, Any]:
    """Everything a report shows, as JSON-ready data (see the OpenAPI schema), made only of
    what `viewer` may see: counts, hours, users affected, structures, hotspots, all of it."""
    visible = Incident.objects.visible_to(viewer).order_by().values("pk")
    figures = Figures()
    window = incidents_in(params, viewer)
    incidents = window_incidents(window)
    current = headline(incidents, window, viewer, figures)
    undated = window_incidents(undated_in(params, viewer))
    current["date_unknown"] = len(undated)
    figures.add("date_unknown", HEADLINE_TITLES["date_unknown"], undated)
    previous = params.previous()
    before, previous_incidents = None, {}
    if previous is not None:
        previous_window = incidents_in(previous, viewer)
        previous_incidents = window_incidents(previous_window)
        before = headline(previous_incidents, previous_window, viewer, figures, "previous_")
    structures, patch_only = structures_section(
        window, incidents, visible, viewer, params.since, figures
    )
    window_pks = window.order_by().values("pk")
    shapes = _names_by_incident(Incident.shapes.through.objects, "emergentshape__name", window_pks)
    patterns = _names_by_incident(PatternLink.objects, "pattern__name", window_pks)
    listed = sorted(incidents, key=lambda pk: (incidents[pk].started_at, pk))
    severities = []
    for value, label in Incident.Severity.choices:
        ids = [pk for pk, row in incidents.items() if row.severity == value]
        cost = total_cost(incidents[pk].cost_row() for pk in ids)
        severities.append(
            {"severity": value, "label": label, "weight": severity_weight(value),
             "incidents": len(ids), "weighted_hours": cost.weighted_hours if value in
             SEVERITY_WEIGHTS else None, "weighted_hours_unknown": cost.weighted_hours_unknown,
             "figure": figures.add(f"severity_{value}", f"{label} incidents", ids)}
        )  # fmt: skip
    # A hotspot reached through a dependency can be a component only hidden reviews use.
    known = set(visible_components(viewer).values_list("pk", flat=True))
    hotspot_rows = []
    for h in hotspots(incidents=window, limit=10):
        if h.component.pk not in known:
            continue
        hotspot_rows.append(
            {"component": h.component.name, "incidents": h.incident_count,
             "direct": len(h.direct), "via_dependency": len(h.via_dependency),
             "figure": figures.add(f"hotspot_{len(hotspot_rows) + 1}",
                                   f"Incidents that reached {h.component.name}",
                                   h.direct | h.via_dependency)}
        )  # fmt: skip
    others = {**previous_incidents, **undated}
    return {
        "schema_version": SNAPSHOT_SCHEMA_VERSION,
        "generated_at": timezone.now().isoformat(),
        "params": params.to_json(),
        "window": window_label(*(params.to_json()[k] for k in ("since", "until"))),
        "filters": _filters_described(params),
        "previous_window": (
            {"since": previous.since.isoformat(), "until": previous.until.isoformat()}
            if previous else None
        ),
        "catalogue_version": catalogue_version(),
        "weighting": {"weights": [{"severity": s, "label": SEVERITY_LABELS[s], "weight": w}
                                  for s, w in SEVERITY_WEIGHTS.items()],
                      "hours_cap": HOURS_CAP},
        # Kept for the snapshot's schema; always 0 since snapshots are built per viewer.
        "restricted_counted_not_shown": 0,
        "headline": current,
        "previous_headline": before,
        "change": _delta({k: v for k, v in current.items() if k != "date_unknown"}, before),
        "by_severity": severities,
        "structures": structures,
        "component_patch_only_structures": patch_only,
        "remediation": remediation_section(window, figures),
        "hotspots": hotspot_rows,
        **shapes_and_perrow(window, incidents, params, figures),
        "incidents": [
            {**incident_row(pk, incidents[pk]), "shapes": shapes.get(pk, []),
             "patterns": patterns.get(pk, [])}
            for pk in listed
        ],
        # The incidents some figure counts that are not in the window: the previous window's
        # and those with no date. Listed so that every figure's incidents can be shown.
        "other_incidents": [incident_row(pk, row) for pk, row in sorted(others.items())],
        "figures": figures.data,
    }  # fmt: skip


def scope_group_ids(*, params: ReportParams, viewer: Viewer) -> set[int]:
    """The restricted groups whose incidents contributed anything to the viewer's snapshot —
    a count, an hour, a component name: those in either window or undated, and every visible
    member of a structure one of them belongs to. A stored report opens only for people in
    all of them (`Report.scope_groups`). Erring wide only hides a report, never leaks one."""
    windows = incidents_in(params, viewer) | undated_in(params, viewer)
    previous = params.previous()
    if previous is not None:
        windows = windows | incidents_in(previous, viewer)
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
PAGE_PERROW_POINTS = 300


def page_view(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The part of a snapshot the report page shows, stored beside it when it is made.

    A year of a large organisation is a snapshot of megabytes (every incident, every
    component of a structure, the incidents behind every figure); the page reads this
    trimmed copy instead, and the exports carry everything. The long lists are cut, and
    each says how long it was.
    """
    page = {
        k: v
        for k, v in snapshot.items()
        if k not in {"incidents", "perrow_points", "other_incidents", "figures"}
    }
    page["incidents"] = snapshot["incidents"][:PAGE_INCIDENTS]
    page["incidents_more"] = max(len(snapshot["incidents"]) - PAGE_INCIDENTS, 0)
    points = snapshot.get("perrow_points", [])
    page["perrow_points"] = points[:PAGE_PERROW_POINTS]
    page["perrow_points_more"] = max(len(points) - PAGE_PERROW_POINTS, 0)
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


def _number(value: Any) -> Any:
    """A figure as people read it: "unknown" rather than an empty cell or None."""
    return "unknown" if value is None else value


def _headline_rows(s: dict[str, Any]) -> list[dict[str, Any]]:
    before, change = s.get("previous_headline"), s.get("change")
    return [
        {"Figure": HEADLINE_TITLES[k], "This window": _number(v),
         "Previous window": _number(before.get(k)) if before else "none (all time)",
         "Change": _number(change.get(k)) if change else "none (all time)"}
        if k != "date_unknown" else
        {"Figure": HEADLINE_TITLES[k], "This window": v, "Previous window": "", "Change": ""}
        for k, v in s["headline"].items()
    ]  # fmt: skip


TABLES = {
    "headline": _headline_rows,
    "severity": lambda s: [
        {"Severity": r["label"], "Weight per hour": _number(r["weight"]),
         "Incidents": r["incidents"], "Weighted incident-hours": _number(r["weighted_hours"]),
         "Left out (end unknown or no weight)": r["weighted_hours_unknown"]}
        for r in s["by_severity"]
    ],
    "structures": lambda s: [
        {"Structure": r["name"], "Kind": r.get("kind", ""), "Status": r["status"],
         "Incidents in the window": r["incidents_in_window"],
         "Incidents in all": r["incidents_in_total"],
         "Weighted incident-hours in the window": r["weighted_hours_in_window"],
         "Incidents left out of the weighted hours": r["weighted_hours_unknown"],
         "Users affected in the window": _number(r["users_affected_in_window"]),
         "Patterns": " + ".join(r["patterns"]), "Components": "; ".join(r["components"]),
         "Incidents": "; ".join(i["title"] for i in r["incidents"]),
         "Open structural actions": "; ".join(r["open_structural_actions"])}
        for r in s["structures"]
    ],
    "remediation": lambda s: [
        {"Leverage level": r["leverage_level"], "Kind": r["kind_label"],
         "State": r["state_label"], "Action items": r["count"]}
        for r in s["remediation"]["by_level"]
    ],
    "hotspots": lambda s: [
        {"Component": h["component"], "Incidents": h["incidents"], "Direct": h["direct"],
         "Through a dependency": h["via_dependency"]}
        for h in s["hotspots"]
    ],
    "shape_mix": lambda s: [
        {"Period": p["label"],
         **{shape["name"]: n for shape, n in zip(s["shape_mix"]["shapes"], p["counts"],
                                                 strict=True)}}
        for p in s["shape_mix"]["periods"]
    ],
    "perrow": lambda s: [
        {"Incident": p["title"], "Interactive complexity (1-5)": p["complexity"],
         "Coupling (1-5)": p["coupling"]}
        for p in s["perrow_points"]
    ],
    "incidents": lambda s: [
        {"Title": i["title"], "Started": (i["started_at"] or "unknown")[:16],
         "Severity": i["severity_label"], "Status": i["status_label"],
         "Hours (capped)": _number(i["hours"]), "Weight": _number(i["weight"]),
         "Weighted hours": _number(i["weighted_hours"] and round(i["weighted_hours"], 2)),
         "Users affected": _number(i["users_affected"]),
         "Shapes": "; ".join(i["shapes"]), "Patterns": "; ".join(i["patterns"])}
        for i in s["incidents"]
    ],
}  # fmt: skip


def to_csv(snapshot: dict[str, Any], table: str) -> str:
    """One table of the snapshot as CSV, with the headings people read."""
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


def _table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return ["None."]
    heads = list(rows[0])
    return [_row(*heads), "|" + "---|" * len(heads), *(_row(*r.values()) for r in rows)]


def to_markdown(snapshot: dict[str, Any]) -> str:
    """The report as a Markdown document, for a planning doc or a wiki."""
    before = snapshot.get("previous_window")
    lines = [
        f"# Recurrence report {snapshot['window']}",
        "",
        f"Generated {snapshot['generated_at'][:16]} UTC; catalogue version "
        f"{snapshot['catalogue_version'][:12]}; "
        + (
            f"compared with {window_label(before['since'], before['until'])}."
            if before
            else "all time, so nothing to compare with."
        ),
    ]
    if snapshot["filters"]:
        lines.append("Filters: " + "; ".join(snapshot["filters"]) + ".")
    weights = ", ".join(f"{w['label']} {w['weight']:g}" for w in snapshot["weighting"]["weights"])
    lines += [
        "",
        "Severity-weighted incident-hours: each incident's hours from start to resolution, at "
        f"most {snapshot['weighting']['hours_cap']:g} per incident, times the weight of its "
        f"severity ({weights}). Incidents of unknown severity or with no end are counted "
        "apart, never as zero. Users affected add up only the numbers recorded as numbers.",
        "",
        "## Headline",
        "",
        *_table(TABLES["headline"](snapshot)),
        "",
        "## By severity",
        "",
        *_table(TABLES["severity"](snapshot)),
        "",
        "## Recurring structures",
        "",
    ]
    for r in snapshot["structures"]:
        lines.append(f"### {r['name']} — {r['status']}")
        users = r["users_affected_in_window"]
        lines.append(
            f"{r['incidents_in_window']} incidents in the window "
            f"({r['weighted_hours_in_window']} weighted incident-hours"
            + (f", {r['weighted_hours_unknown']} left out" if r["weighted_hours_unknown"] else "")
            + f"; users affected {users if users is not None else 'unknown'}), "
            f"{r['incidents_in_total']} in all. "
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
    lines += ["## Remediation depth", "", *_table(TABLES["remediation"](snapshot))]
    lines += ["", "## Concentration hotspots", "", *_table(TABLES["hotspots"](snapshot))]
    bucket = snapshot["shape_mix"]["bucket"]
    lines += ["", f"## Shape mix (incidents per {bucket})", ""]
    lines += _table(TABLES["shape_mix"](snapshot))
    lines += ["", "## Perrow's map", "", *_table(TABLES["perrow"](snapshot))]
    lines += ["", "## Incidents", ""]
    for i in snapshot["incidents"]:
        when = (i["started_at"] or "date unknown")[:10]
        weighted = i["weighted_hours"]
        lines.append(
            f"- {when} {_md_escape(i['title'])} ({i['severity_label']}, "
            + (f"{weighted:.1f} weighted h" if weighted is not None else "weighted h unknown")
            + ")"
        )
    return "\n".join(lines) + "\n"
