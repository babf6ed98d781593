"""A review as the similarity index reads it: title, whole review, and the cause view."""

from __future__ import annotations

import re
from dataclasses import dataclass

from incidents.models import Incident

from . import boilerplate
from .text import sentences, words

# What the index keeps of one review; a longer narrative adds little but cost.
BODY_CHARS = 20_000
CAUSE_CHARS = 4_000

# Sentences that say *why* rather than *what*: they carry the mechanism on vendor write-ups
# whose openings only state the impact.
_CAUSAL = re.compile(
    r"\b(because|caus(e|ed|es|ing)|due to|root[- ]cause|trigger(ed|s)?|led to|lead to|"
    r"result(ed)? in|as a result|owing to|stemm(ed|ing) from|failed to|was not|were not|"
    r"did not|could not|never|without|exceeded|expired|ran out|misconfigur\w*)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Document:
    """The three texts indexed for one review."""

    title: str
    body: str
    cause: str

    @property
    def length(self) -> int:
        return len(words(self.title)) + len(words(self.body))


def cause_view(parts: list[str], factors: list[str]) -> str:
    """The contributing factors and every sentence that gives a reason."""
    found = list(factors)
    for part in parts:
        found.extend(s for s in sentences(part) if _CAUSAL.search(s))
    return "\n".join(found)[:CAUSE_CHARS]


def focus(text: str, opening_words: int) -> str | None:
    """A long text's first `opening_words` words and its sentences that give a reason; None
    when the text is no longer than that (all of it is its focus).

    A whole review asked as a question says what broke and why in its first lines and its
    causal sentences; the narrative between them (who was paged, what was restarted, how it
    recovered) reads like every other review.
    """
    all_words = words(text)
    if len(all_words) <= opening_words:
        return None
    return " ".join(all_words[:opening_words]) + "\n" + cause_view([text], [])


def document_from_parts(
    *, title: str, summary: str = "", sections: list[str] = (), factors: list[str] = ()
) -> Document:
    """Build the indexed texts from a review's parts (boilerplate removed)."""
    runs = boilerplate.known()
    prose = [boilerplate.strip(p, runs) for p in (summary, *sections) if p]
    factors = [f for f in factors if f]
    body = "\n".join([*prose, *factors])[:BODY_CHARS]
    return Document(title=title, body=body, cause=cause_view(prose, factors))


def document_for(incident: Incident) -> Document:
    """The whole review: summary, impact, narrative, contributing factors and timeline.

    Expects `contributing_factors` and `timeline` prefetched when called in bulk.
    """
    timeline = [f"{e.text} {e.why_reasonable}".strip() for e in incident.timeline.all()]
    return document_from_parts(
        title=incident.title,
        summary=incident.summary,
        sections=[incident.impact, incident.narrative, *timeline],
        factors=[f.text for f in incident.contributing_factors.all()],
    )


def raw_text(incident: Incident) -> str:
    """The review's prose before boilerplate is removed (what boilerplate is learned from)."""
    return "\n\n".join(p for p in (incident.summary, incident.impact, incident.narrative) if p)
