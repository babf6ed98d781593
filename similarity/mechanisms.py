"""Mechanisms finer than patterns ("certificate expiry" under *Expiry no one owns*): which ones
a text names, by the phrases the catalogue lists for each (`taxonomy.selectors.mechanisms`)."""

from __future__ import annotations

import time

from incidents.analysis.similarity import normalise
from taxonomy.selectors import Mechanism, mechanisms

# The catalogue is re-read at most this often per process (one query), so a local edit to a
# mechanism shows within a minute without a query per question.
CACHE_SECONDS = 60.0

_cache: dict[str, tuple[float, tuple[tuple[Mechanism, tuple[str, ...]], ...]]] = {}


def _with_phrases() -> tuple[tuple[Mechanism, tuple[str, ...]], ...]:
    """Each mechanism with its name and match terms normalised as texts are."""
    now = time.monotonic()
    cached = _cache.get("all")
    if cached and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    found = tuple(
        (m, tuple(sorted({normalise(p).strip() for p in (m.name, *m.match_terms) if p.strip()})))
        for m in mechanisms()
    )
    _cache["all"] = (now, found)
    return found


def match_mechanisms(text: str) -> dict[str, list[str]]:
    """slug → the phrases of that mechanism found in the text (whole words)."""
    haystack = normalise(text)
    found: dict[str, list[str]] = {}
    for mechanism, phrases in _with_phrases():
        matched = [p for p in phrases if f" {p} " in haystack]
        if matched:
            found[mechanism.slug] = matched
    return found


def by_slug() -> dict[str, Mechanism]:
    """The catalogue's mechanisms by slug."""
    return {m.slug: m for m, _ in _with_phrases()}
