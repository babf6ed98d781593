"""Loading the shipped catalogue (TOML in `taxonomy/catalogue/`) into the database.

The rule that keeps upgrades safe: a shipped entry that is missing is added; an entry that
exists is only ever changed when someone asks (`sync_catalogue --apply`). Each pattern remembers
the digest of the shipped text it was last given, so Seams can tell "Seams changed this entry"
from "you changed this entry" and report both without guessing.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.db import transaction

from .models import EmergentShape, LeverageLevel, PatternRelation, StructuralPattern

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"

# Keys of a pattern file that live in their own columns; everything else goes to `entry`.
_PATTERN_COLUMNS = {"slug", "name", "summary", "definition", "aliases"}
_PATTERN_NOT_STORED = {"related", "typical_shapes"}


@cache
def shipped_patterns() -> dict[str, dict[str, Any]]:
    """Every shipped pattern file, parsed, by slug."""
    patterns = {}
    for path in sorted((CATALOGUE_DIR / "patterns").glob("*.toml")):
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        if data.get("slug") != path.stem:
            raise ValueError(f"{path.name}: slug {data.get('slug')!r} does not match file name")
        patterns[data["slug"]] = data
    return patterns


@cache
def shipped_shapes() -> list[dict[str, Any]]:
    """The four emergent shapes, in their shipped order."""
    with (CATALOGUE_DIR / "shapes.toml").open("rb") as fh:
        return tomllib.load(fh)["shape"]


@cache
def shipped_leverage_levels() -> list[dict[str, Any]]:
    """Meadows' twelve leverage levels, shallowest first."""
    with (CATALOGUE_DIR / "leverage_levels.toml").open("rb") as fh:
        return tomllib.load(fh)["level"]


@cache
def perrow_axes() -> list[dict[str, Any]]:
    """Perrow's two axes (interactive complexity, coupling) with their 1–5 scales."""
    with (CATALOGUE_DIR / "perrow.toml").open("rb") as fh:
        return tomllib.load(fh)["axis"]


def _pattern_content(data: dict[str, Any]) -> dict[str, Any]:
    """The comparable content of a pattern, from a shipped file's data."""
    return {
        "name": data["name"],
        "summary": data["summary"],
        "definition": data.get("definition", ""),
        "aliases": list(data.get("aliases", [])),
        "entry": {
            k: v
            for k, v in data.items()
            if k not in _PATTERN_COLUMNS and k not in _PATTERN_NOT_STORED
        },
        "typical_shapes": sorted(data.get("typical_shapes", [])),
    }


def stored_content(pattern: StructuralPattern) -> dict[str, Any]:
    """The comparable content of a pattern as it is stored now (possibly edited locally)."""
    return {
        "name": pattern.name,
        "summary": pattern.summary,
        "definition": pattern.definition,
        "aliases": list(pattern.aliases),
        "entry": pattern.entry,
        "typical_shapes": sorted(s.slug for s in pattern.typical_shapes.all()),
    }


def digest(content: dict[str, Any]) -> str:
    """A stable digest of pattern content, independent of key order."""
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _write_pattern(pattern: StructuralPattern, content: dict[str, Any]) -> None:
    pattern.name = content["name"]
    pattern.summary = content["summary"]
    pattern.definition = content["definition"]
    pattern.aliases = content["aliases"]
    pattern.entry = content["entry"]
    pattern.shipped = True
    pattern.shipped_digest = digest(content)
    pattern.save()
    pattern.typical_shapes.set(EmergentShape.objects.filter(slug__in=content["typical_shapes"]))


def _write_relations(
    slug: str, data: dict[str, Any], by_slug: dict[str, StructuralPattern]
) -> None:
    source = by_slug[slug]
    for rel in data.get("related", []):
        target = by_slug.get(rel["slug"])
        if target is None or target == source:
            continue
        PatternRelation.objects.update_or_create(
            source=source, target=target, kind=rel["kind"], defaults={"note": rel.get("note", "")}
        )
        if rel["kind"] == PatternRelation.Kind.CONFUSED_WITH:
            # Confusion goes both ways; the reverse keeps its own note if the other entry has one.
            PatternRelation.objects.get_or_create(
                source=target,
                target=source,
                kind=rel["kind"],
                defaults={"note": rel.get("note", "")},
            )


@transaction.atomic
def add_missing() -> list[str]:
    """Add every shipped shape, leverage level and pattern that is not in the database yet.

    Existing rows are left exactly as they are. Returns the slugs added.
    """
    added: list[str] = []
    for position, shape in enumerate(shipped_shapes()):
        entry = {
            k: v for k, v in shape.items() if k not in {"slug", "name", "summary", "definition"}
        }
        _, created = EmergentShape.objects.get_or_create(
            slug=shape["slug"],
            defaults={
                "name": shape["name"],
                "summary": shape["summary"],
                "definition": shape.get("definition", ""),
                "entry": entry,
                "position": position,
            },
        )
        if created:
            added.append(shape["slug"])
    for level in shipped_leverage_levels():
        _, created = LeverageLevel.objects.get_or_create(
            slug=level["slug"],
            defaults={
                "number": level["number"],
                "name": level["name"],
                "description": level["description"],
                "in_operations": level.get("in_operations", ""),
                "depth": level.get("depth", ""),
            },
        )
        if created:
            added.append(level["slug"])

    existing = set(StructuralPattern.objects.values_list("slug", flat=True))
    new_slugs = [slug for slug in shipped_patterns() if slug not in existing]
    for slug in new_slugs:
        _write_pattern(StructuralPattern(slug=slug), _pattern_content(shipped_patterns()[slug]))
    if new_slugs:
        by_slug = {p.slug: p for p in StructuralPattern.objects.all()}
        for slug in new_slugs:
            _write_relations(slug, shipped_patterns()[slug], by_slug)
    return added + new_slugs


def add_missing_after_migrate(sender: Any, **kwargs: Any) -> None:
    """post_migrate hook: top the catalogue up after every migrate (and test flush)."""
    plan = kwargs.get("plan")
    # Running backwards (unapplying migrations) must not write rows into vanishing tables.
    if plan and all(backwards for _, backwards in plan):
        return
    add_missing()


@dataclass(frozen=True)
class CatalogueChange:
    """How one shipped pattern differs from the database."""

    slug: str
    status: str  # "new", "updated upstream", "edited locally", "both changed", "unchanged"
    diff: str = ""

    @property
    def applicable(self) -> bool:
        return self.status in {"new", "updated upstream", "both changed"}


def _diff(old: dict[str, Any], new: dict[str, Any], slug: str) -> str:
    def lines(content: dict[str, Any]) -> list[str]:
        return json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False).splitlines()

    return "\n".join(
        difflib.unified_diff(
            lines(old), lines(new), f"{slug} (in database)", f"{slug} (shipped)", lineterm=""
        )
    )


def compare() -> list[CatalogueChange]:
    """Compare every shipped pattern with the database, without changing anything."""
    stored = {p.slug: p for p in StructuralPattern.objects.prefetch_related("typical_shapes").all()}
    changes = []
    for slug, data in shipped_patterns().items():
        shipped = _pattern_content(data)
        pattern = stored.get(slug)
        if pattern is None:
            changes.append(CatalogueChange(slug, "new"))
            continue
        current = stored_content(pattern)
        shipped_changed = digest(shipped) != pattern.shipped_digest
        locally_edited = digest(current) != pattern.shipped_digest
        if digest(current) == digest(shipped):
            status = "unchanged"
        elif shipped_changed and locally_edited:
            status = "both changed"
        elif shipped_changed:
            status = "updated upstream"
        else:
            status = "edited locally"
        diff = "" if status == "unchanged" else _diff(current, shipped, slug)
        changes.append(CatalogueChange(slug, status, diff))
    return changes


@transaction.atomic
def apply(slugs: list[str] | None = None) -> list[str]:
    """Write the shipped version of the given patterns (all applicable ones if None).

    A locally edited entry whose shipped text did not change is never overwritten, even when
    named: there is nothing newer to apply, only the local edit to lose.
    """
    applied = []
    for change in compare():
        if not change.applicable or (slugs is not None and change.slug not in slugs):
            continue
        pattern = StructuralPattern.objects.filter(slug=change.slug).first() or StructuralPattern(
            slug=change.slug
        )
        _write_pattern(pattern, _pattern_content(shipped_patterns()[change.slug]))
        applied.append(change.slug)
    if applied:
        by_slug = {p.slug: p for p in StructuralPattern.objects.all()}
        for slug in applied:
            _write_relations(slug, shipped_patterns()[slug], by_slug)
    return applied


def is_locally_edited(pattern: StructuralPattern) -> bool:
    """Whether a shipped pattern's stored content differs from the shipped entry last applied.

    Only shipped patterns can be "edited locally"; a local pattern has no shipped text to
    differ from, so it is never reported as edited. The comparison reads `typical_shapes`:
    prefetch them when calling this for many patterns (as the admin list does).
    """
    if not pattern.shipped or not pattern.shipped_digest:
        return False
    return digest(stored_content(pattern)) != pattern.shipped_digest


def catalogue_version() -> str:
    """A short digest of the catalogue as it is in the database now (names, content and
    relations' targets), recorded in every report so a reader knows which vocabulary
    produced it."""
    rows = list(
        StructuralPattern.objects.order_by("slug").values_list("slug", "name", "shipped_digest")
    )
    local = [digest(stored_content(p)) for p in StructuralPattern.objects.filter(shipped=False)]
    return hashlib.sha256(json.dumps([rows, sorted(local)]).encode()).hexdigest()[:16]
