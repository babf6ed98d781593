"""The demo data: six reviews written for Seams from the essays it was specified from.

Loading is idempotent: each review carries `external_id = "demo:<key>"`, and a second load
updates the same rows through the same services a user's edit goes through.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern

from .models import Incident
from .services import (
    ActionEntry,
    PatternClaim,
    ReviewContent,
    TimelineEntry,
    components_named,
    incident_create,
    incident_update,
)

DEMO_DIR = Path(__file__).resolve().parent / "demo"


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def demo_reviews() -> list[dict[str, Any]]:
    """The demo review files, parsed, in chronological order."""
    reviews = []
    for path in sorted(DEMO_DIR.glob("*.toml")):
        with path.open("rb") as fh:
            reviews.append(tomllib.load(fh))
    return sorted(reviews, key=lambda r: r["started_at"])


def _content(review: dict[str, Any]) -> ReviewContent:
    patterns = {p.slug: p for p in StructuralPattern.objects.all()}
    levels = {lvl.slug: lvl for lvl in LeverageLevel.objects.all()}
    fields = {
        name: review.get(name, "")
        for name in (
            "title",
            "severity",
            "status",
            "summary",
            "impact",
            "users_affected",
            "narrative",
            "went_well",
            "where_lucky",
        )
    }
    for name in ("started_at", "detected_at", "mitigated_at", "resolved_at"):
        fields[name] = _when(review[name]) if review.get(name) else None
    fields["complexity"] = review.get("complexity")
    fields["coupling"] = review.get("coupling")
    fields["external_id"] = f"demo:{review['key']}"
    return ReviewContent(
        fields=fields,
        shapes=list(EmergentShape.objects.filter(slug__in=review.get("shapes", []))),
        components=[c["name"] for c in review.get("components", [])],
        timeline=[
            TimelineEntry(
                occurred_at=_when(e["at"]),
                kind=e["kind"],
                text=e["text"],
                why_reasonable=e.get("why_reasonable", ""),
            )
            for e in review.get("timeline", [])
        ],
        factors=[f["text"] for f in review.get("factors", [])],
        actions=[
            ActionEntry(
                title=a["title"],
                owner=a.get("owner", ""),
                status=a.get("status", "open"),
                due=date.fromisoformat(a["due"]) if a.get("due") else None,
                tracker_url=a.get("tracker_url", ""),
                kind=a.get("kind", "component_patch"),
                leverage_level=levels.get(a.get("leverage", "")),
                pattern=patterns.get(a.get("pattern", "")),
                # A finished demo action was finished by its due date (end of that day).
                completed_at=_when(f"{a['due']}T23:59:00Z")
                if a.get("status") == "done" and a.get("due")
                else None,
            )
            for a in review.get("actions", [])
        ],
        patterns=[
            PatternClaim(pattern=patterns[p["slug"]], rationale=p["rationale"])
            for p in review.get("patterns", [])
        ],
    )


def _link_components(review: dict[str, Any]) -> None:
    """Record each demo component's description and what it depends on."""
    for spec in review.get("components", []):
        (component,) = components_named([spec["name"]])
        component.description = spec.get("description", "")
        component.save(update_fields=["description"])
        component.depends_on.set(components_named(spec.get("depends_on", [])))


def load_demo(*, author: AbstractBaseUser | None) -> list[Incident]:
    """Create or update the six demo reviews; return them oldest first."""
    loaded = []
    for review in demo_reviews():
        with transaction.atomic():
            content = _content(review)
            existing = Incident.objects.filter(external_id=content.fields["external_id"]).first()
            if existing is None:
                incident = incident_create(by=author, content=content)
            else:
                incident = incident_update(incident=existing, by=author, content=content)
            _link_components(review)
        loaded.append(incident)
    return loaded
