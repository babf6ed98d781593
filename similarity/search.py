"""Searching reviews by words, through the similarity index: the whole review is searched,
every word must be present (in any form the stemmer joins: "retry" finds "retries"), and a
hyphenated or dotted term ("us-east-1", "example.com") is searched as a phrase."""

from __future__ import annotations

from django.contrib.postgres.search import SearchQueryField, SearchRank, SearchVectorField
from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.expressions import RawSQL

from incidents.models import Incident

from .text import STOP_WORDS, words

MAX_TERMS = 12


def search_terms(text: str) -> list[str]:
    """The terms of a search: each whitespace-separated token as the words it contains (a
    phrase when more than one), stop words left out unless nothing else is asked."""
    terms = []
    for token in text.split():
        parts = words(token)
        if parts:
            terms.append(" ".join(parts))
    meaningful = [t for t in terms if t not in STOP_WORDS]
    return list(dict.fromkeys(meaningful or terms))[:MAX_TERMS]


def text_search(incidents: QuerySet[Incident], text: str) -> QuerySet[Incident]:
    """The incidents containing every term of `text`, best first."""
    terms = search_terms(text)
    if not terms:
        return incidents.none()
    if connection.vendor == "postgresql":
        query = " & ".join("(" + " <-> ".join(f"'{w}'" for w in t.split()) + ")" for t in terms)
        matching = RawSQL(
            "SELECT incident_id FROM similarity_indexeddocument "
            "WHERE document @@ to_tsquery('english', %s)",
            [query],
        )
        # Ranked by where the words stand (title, then the summary's opening: a small stored
        # vector), not by the whole review's vector, which would be read from TOAST storage
        # for every match.
        head = RawSQL("incidents_incident.search_head", [], output_field=SearchVectorField())
        ts_query = RawSQL(
            "to_tsquery('english', %s)",
            [query.replace("<->", "&")],
            output_field=SearchQueryField(),
        )
        return (
            incidents.filter(pk__in=matching)
            .alias(search_head=head)
            .annotate(search_rank=SearchRank(F("search_head"), ts_query))
            .order_by("-search_rank", "-id")
        )
    match = " AND ".join('"' + t + '"' for t in terms)
    matching = RawSQL(
        "SELECT rowid FROM similarity_fts WHERE similarity_fts MATCH %s",
        [f"{{title body}} : ({match})"],
    )
    rank = RawSQL(
        "(SELECT bm25(similarity_fts, 2.0, 1.0, 0.0) FROM similarity_fts "
        "WHERE similarity_fts MATCH %s AND rowid = incidents_incident.id)",
        [f"{{title body}} : ({match})"],
    )
    return (
        incidents.filter(pk__in=matching).annotate(search_rank=rank).order_by("search_rank", "-id")
    )
