"""Full-text search over reviews: PostgreSQL's full-text search (ranked, GIN-indexed) when
the database is PostgreSQL, a plain substring match on SQLite (the embedded mode)."""

from __future__ import annotations

import re

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import RawSQL

from .models import Incident

# The stored, GIN-indexed column that migration 0006 adds on PostgreSQL (title weighted
# above summary). It is not a model field: SQLite has no tsvector, and nothing writes it.
SEARCH_VECTOR = RawSQL("incidents_incident.search_vector", [], output_field=SearchVectorField())
# Migration 0009's small stored vector of the title and the summary's first 500 characters,
# which ranking reads instead of the full vector (see `text_search`).
SEARCH_HEAD = RawSQL("incidents_incident.search_head", [], output_field=SearchVectorField())


def text_search(incidents: QuerySet[Incident], text: str):
    """Incidents containing every word of `text`, best first.

    Deliberately all words: matching any word selects most of a large archive, and ranking
    that many rows is what once made similar-incident lookups take seconds.
    """
    # Only letters and digits reach the query: no operator can be smuggled into tsquery.
    words = [w for w in (re.sub(r"[^\w]", "", w) for w in text.lower().split()) if w][:20]
    if not words:
        return incidents.none()
    if connection.vendor == "postgresql":
        query = SearchQuery(
            " ".join(words),
            search_type="plain",
            config="english",
        )
        # Every word anywhere in the review selects it (the full vector, through its GIN
        # index); the rank comes from where the words stand: in the title first, then in
        # the summary's opening, and reviews that mention them only further down follow,
        # newest first. Ranking by the full vector would read each match's 3 KB vector
        # out of TOAST storage: tens of milliseconds for a thousand matches.
        return (
            incidents.alias(search_document=SEARCH_VECTOR, search_head=SEARCH_HEAD)
            .filter(search_document=query)
            .annotate(search_rank=SearchRank(F("search_head"), query))
            .order_by("-search_rank", "-id")
        )
    condition = Q()
    for word in words[:8]:
        match = Q(title__icontains=word) | Q(summary__icontains=word)
        condition &= match
    return incidents.filter(condition).order_by("-started_at", "-id")
