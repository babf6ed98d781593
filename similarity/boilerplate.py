"""Template text learned from the archive, and taken out before text is indexed or compared.

Vendors' status pages open and close every write-up with the same paragraphs ("We apologise
for the inconvenience…", "Our engineers are committed to…"). Those words match every other
write-up of the same vendor and none of the mechanism. A sentence is boilerplate when most of
its five-word runs recur in several reviews; no list of companies or phrases is kept.
"""

from __future__ import annotations

import time
from collections import Counter

from django.db import transaction

from .models import RecurringShingle
from .text import sentences, shingles, words

SHINGLE = 5
# A five-word run seen in this many different reviews is template text…
MIN_DOCUMENTS = 3
# …and a sentence is dropped when at least this share of its runs are template text.
SENTENCE_SHARE = 0.5
# Learning reads at most this many reviews (the most recent): templates show up in any
# sample, and counting every run of a 100,000-review archive would hold ~10^8 hashes.
SAMPLE = 1500
CACHE_SECONDS = 300.0

_cache: dict[str, tuple[float, frozenset[int]]] = {}


def learn(texts: list[str]) -> dict[int, int]:
    """Five-word runs that recur in MIN_DOCUMENTS or more of `texts`, with their counts.

    Each text counts a run once, however often it repeats it.
    """
    counts: Counter[int] = Counter()
    for text in texts:
        seen: set[int] = set()
        for sentence in sentences(text):
            seen.update(shingles(words(sentence), SHINGLE))
        counts.update(seen)
    return {h: n for h, n in counts.items() if n >= MIN_DOCUMENTS}


def store(recurring: dict[int, int]) -> None:
    """Replace the learned runs with these."""
    with transaction.atomic():
        RecurringShingle.objects.all().delete()
        RecurringShingle.objects.bulk_create(
            [RecurringShingle(hash=h, documents=n) for h, n in recurring.items()], batch_size=5000
        )
    _cache.clear()


def known() -> frozenset[int]:
    """The learned runs, read once per CACHE_SECONDS per process."""
    now = time.monotonic()
    cached = _cache.get("runs")
    if cached and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    runs = frozenset(RecurringShingle.objects.values_list("hash", flat=True))
    _cache["runs"] = (now, runs)
    return runs


def strip(text: str, runs: frozenset[int] | None = None) -> str:
    """The text without its boilerplate sentences."""
    runs = known() if runs is None else runs
    if not runs:
        return text
    kept = []
    for sentence in sentences(text):
        hashes = shingles(words(sentence), SHINGLE)
        if hashes and sum(h in runs for h in hashes) / len(hashes) >= SENTENCE_SHARE:
            continue
        kept.append(sentence)
    return "\n".join(kept)


def relearn() -> bool:
    """Learn the template text again from the most recent SAMPLE reviews and store it if it
    differs from what was stored. True when the set of runs changed, so text stripped
    before may strip differently now (the counts alone change nothing that is stripped)."""
    from incidents.models import Incident

    from .documents import raw_text

    recent = Incident.objects.order_by("-pk").only("summary", "impact", "narrative")[:SAMPLE]
    recurring = learn([raw_text(i) for i in recent])
    before = dict(RecurringShingle.objects.values_list("hash", "documents"))
    if before == recurring:
        return False
    store(recurring)
    return before.keys() != recurring.keys()
