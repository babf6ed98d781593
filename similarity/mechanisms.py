"""Mechanisms finer than patterns ("certificate expiry" under *Expiry no one owns*): which ones
a text names, by the phrases the catalogue lists for each."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

from incidents.analysis.similarity import normalise
from taxonomy.models import StructuralPattern

CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class MechanismTerms:
    """One catalogue mechanism and the normalised phrases that show it."""

    slug: str
    name: str
    pattern_slug: str
    pattern_name: str
    phrases: tuple[str, ...]


_cache: dict[str, tuple[float, str, tuple[MechanismTerms, ...]]] = {}


def catalogue_mechanisms() -> tuple[MechanismTerms, ...]:
    """Every mechanism of the catalogue, re-read when the catalogue changes (checked at most
    once per CACHE_SECONDS)."""
    now = time.monotonic()
    cached = _cache.get("all")
    if cached and now - cached[0] < CACHE_SECONDS:
        return cached[2]
    rows = list(
        StructuralPattern.objects.order_by("id").values_list("slug", "name", "entry__mechanisms")
    )
    key = hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()
    if cached and cached[1] == key:
        _cache["all"] = (now, key, cached[2])
        return cached[2]
    found = []
    for pattern_slug, pattern_name, entries in rows:
        for entry in entries or []:
            if not isinstance(entry, dict) or not entry.get("slug"):
                continue
            phrases = {entry.get("name", ""), *entry.get("match_terms", [])}
            normalised = tuple(sorted({normalise(p).strip() for p in phrases if p.strip()}))
            found.append(
                MechanismTerms(
                    entry["slug"], entry.get("name", entry["slug"]), pattern_slug, pattern_name,
                    normalised,
                )
            )  # fmt: skip
    _cache["all"] = (now, key, tuple(found))
    return tuple(found)


def match_mechanisms(text: str) -> dict[str, list[str]]:
    """slug → the phrases of that mechanism found in the text (whole words)."""
    haystack = normalise(text)
    found: dict[str, list[str]] = {}
    for mechanism in catalogue_mechanisms():
        matched = [p for p in mechanism.phrases if f" {p} " in haystack]
        if matched:
            found[mechanism.slug] = matched
    return found


def by_slug() -> dict[str, MechanismTerms]:
    """The catalogue's mechanisms by slug."""
    return {m.slug: m for m in catalogue_mechanisms()}
