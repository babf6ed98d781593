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
import re
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
# Synced one by one (see the module docstring), so left out of the pattern's comparable content.
MECHANISMS_KEY = "mechanisms"
# Stored on each mechanism in `entry`: the digest of the shipped text it was last given.
_MECHANISM_DIGEST = "shipped_digest"
MECHANISM_KEYS = ("slug", "name", "summary", "match_terms")
MECHANISM_TERMS = (3, 15)
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class CatalogueError(ValueError):
    """A shipped catalogue file that Seams refuses to load; the message names the file."""


def _validate_mechanisms(filename: str, data: dict[str, Any], seen: dict[str, str]) -> None:
    """Refuse a pattern file whose `[[mechanisms]]` are malformed.

    `seen` maps every mechanism slug met so far to its file, because a mechanism slug names
    one mechanism across the whole catalogue, not just within its pattern.
    """
    mechanisms = data.get(MECHANISMS_KEY, [])
    if not isinstance(mechanisms, list):
        raise CatalogueError(f"{filename}: mechanisms must be an array of tables ([[mechanisms]])")
    low, high = MECHANISM_TERMS
    for position, mechanism in enumerate(mechanisms, start=1):
        where = f"{filename}: mechanism {position}"
        if not isinstance(mechanism, dict):
            raise CatalogueError(f"{where} must be a table ([[mechanisms]])")
        missing = [key for key in MECHANISM_KEYS if key not in mechanism]
        if missing:
            raise CatalogueError(f"{where} is missing {', '.join(missing)}")
        unknown = sorted(set(mechanism) - set(MECHANISM_KEYS))
        if unknown:
            raise CatalogueError(f"{where} has unknown key(s) {', '.join(unknown)}")
        slug = mechanism["slug"]
        if not isinstance(slug, str) or not _SLUG_RE.match(slug):
            raise CatalogueError(
                f"{where}: slug {slug!r} must be lowercase words joined by hyphens"
            )
        where = f"{filename}: mechanism {slug!r}"
        for key in ("name", "summary"):
            if not isinstance(mechanism[key], str) or not mechanism[key].strip():
                raise CatalogueError(f"{where}: {key} must be non-empty text")
        terms = mechanism["match_terms"]
        if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
            raise CatalogueError(f"{where}: match_terms must be a list of non-empty phrases")
        if not low <= len(terms) <= high:
            raise CatalogueError(
                f"{where}: match_terms has {len(terms)} phrase(s); between {low} and {high} needed"
            )
        if slug in seen:
            raise CatalogueError(f"{where}: slug is already used by a mechanism in {seen[slug]}")
        seen[slug] = filename


def load_patterns(directory: Path) -> dict[str, dict[str, Any]]:
    """Every pattern file in `directory`, parsed and checked, by slug.

    Raises `CatalogueError` naming the file when a file cannot be used as it stands.
    """
    patterns = {}
    mechanism_files: dict[str, str] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise CatalogueError(f"{path.name}: not valid TOML ({exc})") from exc
        if data.get("slug") != path.stem:
            raise CatalogueError(f"{path.name}: slug {data.get('slug')!r} does not match file name")
        _validate_mechanisms(path.name, data, mechanism_files)
        patterns[data["slug"]] = data
    return patterns


@cache
def shipped_patterns() -> dict[str, dict[str, Any]]:
    """Every shipped pattern file, parsed and checked, by slug."""
    return load_patterns(CATALOGUE_DIR / "patterns")


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
            if k not in _PATTERN_COLUMNS and k not in _PATTERN_NOT_STORED and k != MECHANISMS_KEY
        },
        "typical_shapes": sorted(data.get("typical_shapes", [])),
    }


def stored_content(pattern: StructuralPattern) -> dict[str, Any]:
    """The comparable content of a pattern as it is stored now (possibly edited locally).

    Mechanisms are left out: they are compared one by one (`mechanism_changes`).
    """
    entry = pattern.entry if isinstance(pattern.entry, dict) else {}
    return {
        "name": pattern.name,
        "summary": pattern.summary,
        "definition": pattern.definition,
        "aliases": list(pattern.aliases),
        "entry": {k: v for k, v in entry.items() if k != MECHANISMS_KEY},
        "typical_shapes": sorted(s.slug for s in pattern.typical_shapes.all()),
    }


def digest(content: dict[str, Any]) -> str:
    """A stable digest of pattern content, independent of key order."""
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _write_pattern(pattern: StructuralPattern, content: dict[str, Any]) -> None:
    # The stored mechanisms are synced on their own rule; rewriting the rest of the entry
    # must not drop them (nor a mechanism an organisation added or edited).
    old_entry = pattern.entry if isinstance(pattern.entry, dict) else {}
    pattern.name = content["name"]
    pattern.summary = content["summary"]
    pattern.definition = content["definition"]
    pattern.aliases = content["aliases"]
    pattern.entry = dict(content["entry"])
    if old_entry.get(MECHANISMS_KEY):
        pattern.entry[MECHANISMS_KEY] = old_entry[MECHANISMS_KEY]
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
    return added + new_slugs + _sync_mechanisms(None, {"new"})


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
        return self.status in _APPLICABLE


_APPLICABLE = {"new", "updated upstream", "both changed"}


def _mechanism_text(mechanism: dict[str, Any]) -> dict[str, Any]:
    """The comparable content of a mechanism: its shipped keys, without bookkeeping."""
    return {key: mechanism[key] for key in MECHANISM_KEYS if key in mechanism}


def _mechanism_status(stored: dict[str, Any] | None, shipped: dict[str, Any]) -> str:
    """How a stored mechanism relates to its shipped text, in `CatalogueChange` words."""
    if stored is None:
        return "new"
    current = digest(_mechanism_text(stored))
    new = digest(_mechanism_text(shipped))
    if current == new:
        return "unchanged"
    base = stored.get(_MECHANISM_DIGEST, "")
    if not base:
        # Written here under a slug Seams later shipped: it is the organisation's own text.
        return "edited locally"
    shipped_changed, locally_edited = new != base, current != base
    if shipped_changed and locally_edited:
        return "both changed"
    return "updated upstream" if shipped_changed else "edited locally"


def _stored_mechanisms(pattern: StructuralPattern) -> list[dict[str, Any]]:
    entry = pattern.entry if isinstance(pattern.entry, dict) else {}
    stored = entry.get(MECHANISMS_KEY, [])
    return [m for m in stored if isinstance(m, dict)] if isinstance(stored, list) else []


@dataclass(frozen=True)
class MechanismChange:
    """How one shipped mechanism differs from the one stored under its pattern."""

    pattern_slug: str
    slug: str
    status: str  # as in CatalogueChange
    diff: str = ""

    @property
    def applicable(self) -> bool:
        return self.status in _APPLICABLE

    @property
    def label(self) -> str:
        return f"{self.pattern_slug}/{self.slug}"


def mechanism_changes() -> list[MechanismChange]:
    """Compare every shipped mechanism with the stored ones, without changing anything.

    Mechanisms of patterns that are not in the database yet are not listed: they arrive with
    their pattern.
    """
    stored = {p.slug: p for p in StructuralPattern.objects.filter(shipped=True)}
    changes = []
    for pattern_slug, data in shipped_patterns().items():
        pattern = stored.get(pattern_slug)
        if pattern is None:
            continue
        by_slug = {m.get("slug"): m for m in _stored_mechanisms(pattern)}
        for shipped in data.get(MECHANISMS_KEY, []):
            current = by_slug.get(shipped["slug"])
            status = _mechanism_status(current, shipped)
            diff = ""
            if current is not None and status != "unchanged":
                label = f"{pattern_slug}/{shipped['slug']}"
                diff = _diff(_mechanism_text(current), _mechanism_text(shipped), label)
            changes.append(MechanismChange(pattern_slug, shipped["slug"], status, diff))
    return changes


def _sync_mechanisms(pattern_slugs: list[str] | None, statuses: set[str]) -> list[str]:
    """Write the shipped mechanisms whose status is in `statuses` into their patterns' entries.

    Stored mechanisms Seams does not ship (an organisation's own) are kept, in place. Returns
    "pattern/mechanism" labels of what was written.
    """
    written: list[str] = []
    shipped = shipped_patterns()
    patterns = StructuralPattern.objects.filter(shipped=True, slug__in=list(shipped))
    if pattern_slugs is not None:
        patterns = patterns.filter(slug__in=pattern_slugs)
    for pattern in patterns:
        stored = _stored_mechanisms(pattern)
        position = {m.get("slug"): i for i, m in enumerate(stored)}
        changed = False
        for mechanism in shipped[pattern.slug].get(MECHANISMS_KEY, []):
            index = position.get(mechanism["slug"])
            current = None if index is None else stored[index]
            if _mechanism_status(current, mechanism) not in statuses:
                continue
            text = _mechanism_text(mechanism)
            record = {**text, _MECHANISM_DIGEST: digest(text)}
            if index is None:
                stored.append(record)
            else:
                stored[index] = record
            written.append(f"{pattern.slug}/{mechanism['slug']}")
            changed = True
        if changed:
            entry = pattern.entry if isinstance(pattern.entry, dict) else {}
            # Only `entry` is written, and mechanisms are outside the pattern's digest, so a
            # local edit of the pattern stays exactly as it was and still reads as one.
            pattern.entry = {**entry, MECHANISMS_KEY: stored}
            pattern.save(update_fields=["entry"])
    return written


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
    return applied + _sync_mechanisms(slugs, _APPLICABLE)


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
    # Mechanisms sit outside the patterns' digests but are vocabulary the matching reads.
    mechanisms = [
        [p.slug, [digest(_mechanism_text(m)) for m in _stored_mechanisms(p)]]
        for p in StructuralPattern.objects.order_by("slug")
    ]
    return hashlib.sha256(json.dumps([rows, sorted(local), mechanisms]).encode()).hexdigest()[:16]
