"""Which patterns a question shows: first what its own text names, then — where the text names
fewer than a handful — the patterns the closest past reviews show.

A short question ("checkout timed out after the card provider slowed down") rarely contains
the catalogue's phrases for its structure, but the reviews it retrieves were written in full
and analysed: their patterns are evidence about the question too. Measured on the tuning
corpus (docs/similarity.md), filling the empty places this way raised "a true pattern in the
top 3" for title+summary questions from 0.82 to 0.90, and for whole reviews from 0.90 to 0.92;
putting neighbours' votes *above* the text's own evidence made whole reviews worse, so the
text's own patterns always come first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from incidents.analysis.similarity import PatternSuggestion, suggest_patterns
from incidents.models import PatternScore

from .documents import focus

# How many patterns an answer offers at least, when the text and its neighbours have them.
PATTERNS_OFFERED = 5
# How many of the neighbours that show a pattern are named in its explanation.
NAMED_NEIGHBOURS = 3
# How many patterns of its own text a question keeps (before its neighbours fill the rest).
TEXT_PATTERNS = 8
# A question longer than EVIDENCE_WORDS words is read for pattern evidence in its opening
# EVIDENCE_WORDS words and its sentences that give a reason. Past that opening, a whole
# review tells how the incident was handled ("restored from backup", "rolled back", "added
# capacity"), and those words are evidence for recovery and capacity patterns in nearly every
# review. Chosen on the tuning corpus's dev groups (40, 80, 150 words: 150 is the only one that
# lost nothing there, whole reviews 0.96 → 0.96) and checked on held-out set 1 (whole reviews
# 0.47 → 0.66; with template paragraphs 0.44 → 0.59); a question of title and summary is
# usually shorter, and is read whole. Reading archived reviews the same way was measured too
# and lowered set 1's title+summary questions (0.50 → 0.41), so stored pattern scores still
# read the whole review.
EVIDENCE_WORDS = 150


def evidence_text(text: str) -> str:
    """The part of a question its own pattern evidence is read from (see EVIDENCE_WORDS)."""
    focused = focus(text, EVIDENCE_WORDS)
    return text if focused is None else focused


def of_question(text: str, *, exclude: frozenset[str] = frozenset()) -> list[PatternSuggestion]:
    """The patterns a question's own text shows, best first, never one of `exclude`."""
    return suggest_patterns(text=evidence_text(text), limit=TEXT_PATTERNS, exclude=exclude)


def completed(
    text_patterns: list[PatternSuggestion],
    neighbours: Sequence[tuple[int, str, float]],
    *,
    exclude: frozenset[str] = frozenset(),
    offered: int = PATTERNS_OFFERED,
) -> list[PatternSuggestion]:
    """The text's own patterns, then, up to `offered`, the patterns the neighbours show.

    `neighbours` are the answer's results as (incident id, title, score), best first, already
    limited to what the reader may see. A neighbour's pattern counts by the neighbour's share
    of the results' total score times how strongly the neighbour shows it (its stored
    `PatternScore`: 1.0 when linked by hand). Patterns in `exclude` (linked to the review
    already, or rejected by its author) are never offered.
    """
    if len(text_patterns) >= offered or not neighbours:
        return text_patterns
    total = sum(score for _, _, score in neighbours) or 1.0
    share = {pk: score / total for pk, _, score in neighbours}
    title = {pk: t for pk, t, _ in neighbours}
    own = {p.slug for p in text_patterns} | exclude
    votes: dict[str, float] = defaultdict(float)
    names: dict[str, str] = {}
    shown_by: dict[str, list[int]] = defaultdict(list)
    rows = (
        PatternScore.objects.filter(incident_id__in=list(share))
        .exclude(pattern__slug__in=own)
        .values_list("incident_id", "pattern__slug", "pattern__name", "score")
    )
    for pk, slug, name, score in rows:
        votes[slug] += share[pk] * score
        names[slug] = name
        shown_by[slug].append(pk)
    order = [pk for pk, _, _ in neighbours]
    extra = [
        PatternSuggestion(
            slug,
            names[slug],
            round(vote, 3),
            (),
            tuple(title[pk] for pk in sorted(shown_by[slug], key=order.index)[:NAMED_NEIGHBOURS]),
        )
        for slug, vote in sorted(votes.items(), key=lambda kv: (-kv[1], names[kv[0]]))
    ]
    return text_patterns + extra[: offered - len(text_patterns)]
