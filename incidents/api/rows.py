"""Incident list rows for the API, built from bare columns.

A list page is 50 incidents, each with its shapes, patterns, components and action items.
Built through model instances, `prefetch_related` and nested DRF serializers, that page
spends most of its time creating per-row querysets and serializer fields. Here the same
JSON (what `IncidentSerializer` documents, key for key and in the same order) comes from
one `.values()` query for the page and four plain statements for the child rows, into
plain dicts. `tests/test_api.py` (SQLite) and the integration suite (PostgreSQL) hold the
two equal.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from rest_framework.fields import DateField
from rest_framework.request import Request

from incidents.links import incident_path_prefix
from incidents.models import ActionItem, Component, Incident, PatternLink
from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern

# The columns a list row reads from the incident itself; the long review sections stay in
# the database. Timestamps are read as text (see `_iso`).
LIST_COLUMNS = (
    "id", "title", "status", "severity", "summary", "external_id", "source_url",
    "organisation", "restricted_to_id", "version",
)  # fmt: skip
LIST_TIMESTAMPS = (
    "started_at", "detected_at", "mitigated_at", "resolved_at", "created_at", "updated_at",
)  # fmt: skip

_date = DateField()


def _as_text(column: str) -> Cast:
    return Cast(column, output_field=TextField())


def list_values(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """The incidents as the dicts `incident_rows` takes (timestamps as "<name>_text")."""
    return incidents.values(
        *LIST_COLUMNS, **{f"{name}_text": _as_text(name) for name in LIST_TIMESTAMPS}
    )


def list_values_in_order(ids: Sequence[int], visible: QuerySet[Incident]) -> list[dict[str, Any]]:
    """The `list_values` dicts of the incidents `ids`, in that order.

    For ranked search: the ranking statement returns ids only, and this reads the page's
    columns. Ranking with every column selected made PostgreSQL read and format the
    columns of every match (1,157 or 15,769 of them) before the sort kept 51, which cost as
    much as the ranking. `visible` is applied again, so an incident restricted or removed
    between the two statements is left out rather than shown.
    """
    rows = {row["id"]: row for row in list_values(visible.filter(pk__in=ids))}
    return [rows[pk] for pk in ids if pk in rows]


_TEXT_TIMESTAMP = re.compile(
    r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(?:\+00(?::00)?)?"
)


def _iso(text: str | None) -> str | None:
    """A UTC timestamp as the database writes it in text ("2025-05-01 10:00:00.5+00" on
    PostgreSQL, "2025-05-01 10:00:00.500000" on SQLite) turned into what DRF's
    DateTimeField writes ("2025-05-01T10:00:00.500000Z").

    Why text: Django loads each timestamptz through a pure-Python loader, and a list page
    has some four hundred of them; reading text and reshaping it costs a fraction of that.
    The test against the serializer holds the two equal on each database.
    """
    if text is None:
        return None
    match = _TEXT_TIMESTAMP.fullmatch(text)
    if match is None:  # not UTC, or a format not foreseen: take the long way
        return _when(datetime.fromisoformat(text))
    day, clock, fraction = match.groups()
    fraction = (fraction or "").ljust(6, "0")
    return f"{day}T{clock}.{fraction}Z" if fraction != "000000" else f"{day}T{clock}Z"


def _when(value: datetime | None) -> str | None:
    """A timestamp as DRF's DateTimeField writes it under Seams' settings (UTC, "Z")."""
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite's text has no offset: it is UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@cache
def _child_statements() -> dict[str, str]:
    """The four statements that read a page's child rows, written once.

    Plain SQL rather than querysets: building and compiling four querysets cost more than
    running them. Table and column names come from the models, and the column aliases are
    those the ORM would give, so the statements read like the ORM's own.
    """
    q = connection.ops.quote_name
    link = Incident.shapes.through._meta.db_table
    joined = Incident.components.through._meta.db_table
    t = {
        "shape": q(EmergentShape._meta.db_table),
        "component": q(Component._meta.db_table),
        "pattern": q(StructuralPattern._meta.db_table),
        "level": q(LeverageLevel._meta.db_table),
        "link": q(PatternLink._meta.db_table),
        "action": q(ActionItem._meta.db_table),
        "user": q(get_user_model()._meta.db_table),
        "group": q(Group._meta.db_table),
    }
    username = q(get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD).column)
    return {
        "shapes": (
            f'SELECT s.incident_id AS "incident_id", e.slug AS "emergentshape__slug" '
            f"FROM {q(link)} s INNER JOIN {t['shape']} e ON e.id = s.emergentshape_id "
            "WHERE s.incident_id IN ({ids}) ORDER BY e.position, e.slug"
        ),
        # A component's name by primary key, per row: joined, PostgreSQL hashed the whole
        # component table (2,000 rows in the benchmark, more in a large organisation) for
        # every page, three quarters of the statement's time.
        "components": (
            f'SELECT c.incident_id AS "incident_id", (SELECT k.name FROM {t["component"]} k '
            'WHERE k.id = c.component_id) AS "component__name" '
            f"FROM {q(joined)} c WHERE c.incident_id IN ({{ids}}) ORDER BY 2"
        ),
        "patterns": (
            f'SELECT l.incident_id AS "incident_id", p.slug AS "pattern__slug", '
            f'p.name AS "pattern__name", l.rationale AS "rationale" '
            f"FROM {t['link']} l INNER JOIN {t['pattern']} p ON p.id = l.pattern_id "
            "WHERE l.incident_id IN ({ids}) ORDER BY p.name"
        ),
        "actions": (
            f'SELECT a.incident_id AS "incident_id", a.id AS "id", a.title AS "title", '
            f'o.{username} AS "owner_user__username", g.name AS "owner_team__name", '
            f'a.owner AS "owner", a.status AS "status", a.due AS "due", '
            f'CAST(a.completed_at AS text) AS "completed_at_text", '
            f'c.{username} AS "closed_by__username", '
            f'a.tracker_url AS "tracker_url", a.kind AS "kind", '
            f'v.slug AS "leverage_level__slug", p.slug AS "pattern__slug" '
            f"FROM {t['action']} a LEFT OUTER JOIN {t['level']} v ON v.id = a.leverage_level_id "
            f"LEFT OUTER JOIN {t['pattern']} p ON p.id = a.pattern_id "
            f"LEFT OUTER JOIN {t['user']} o ON o.id = a.owner_user_id "
            f"LEFT OUTER JOIN {t['group']} g ON g.id = a.owner_team_id "
            f"LEFT OUTER JOIN {t['user']} c ON c.id = a.closed_by_id "
            "WHERE a.incident_id IN ({ids}) ORDER BY a.id"
        ),
    }


def _child_rows(name: str, ids: list[int]) -> list[tuple]:
    if not ids:
        return []
    sql = _child_statements()[name].format(ids=", ".join(["%s"] * len(ids)))
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        return cursor.fetchall()


def incident_rows(page: Sequence[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    """The API list rows of `page`: incidents as dicts from `list_values`."""
    ids = [incident["id"] for incident in page]
    shapes: dict[int, list[str]] = defaultdict(list)
    for incident_id, slug in _child_rows("shapes", ids):
        shapes[incident_id].append(slug)
    components: dict[int, list[str]] = defaultdict(list)
    for incident_id, name in _child_rows("components", ids):
        components[incident_id].append(name)
    patterns: dict[int, list[dict[str, str]]] = defaultdict(list)
    for incident_id, slug, name, rationale in _child_rows("patterns", ids):
        patterns[incident_id].append({"slug": slug, "name": name, "rationale": rationale})
    actions: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in _child_rows("actions", ids):
        (incident_id, pk, title, owner_user, owner_team, owner, state, due, completed,
         closed_by, tracker, kind, level, pattern) = row  # fmt: skip
        actions[incident_id].append(
            {
                "id": pk,
                "title": title,
                "owner_user": owner_user,
                "owner_team": owner_team,
                "owner": owner,
                "status": state,
                "due": _date.to_representation(due) if due is not None else None,
                "completed_at": _iso(completed),
                "closed_by": closed_by,
                "tracker_url": tracker,
                "kind": kind,
                "leverage_level": level,
                "pattern": pattern,
            }
        )
    prefix = request.build_absolute_uri(incident_path_prefix("api:incident-detail"))
    return [
        {
            "id": i["id"],
            "url": f"{prefix}{i['id']}/",
            "title": i["title"],
            "status": i["status"],
            "severity": i["severity"],
            "started_at": _iso(i["started_at_text"]),
            "detected_at": _iso(i["detected_at_text"]),
            "mitigated_at": _iso(i["mitigated_at_text"]),
            "resolved_at": _iso(i["resolved_at_text"]),
            "summary": i["summary"],
            "shapes": shapes[i["id"]],
            "patterns": patterns[i["id"]],
            "components": components[i["id"]],
            "action_items": actions[i["id"]],
            "external_id": i["external_id"],
            "source_url": i["source_url"],
            "organisation": i["organisation"],
            "restricted": i["restricted_to_id"] is not None,
            "version": i["version"],
            "created_at": _iso(i["created_at_text"]),
            "updated_at": _iso(i["updated_at_text"]),
        }
        for i in page
    ]
