"""The two questions readers ask, answered for one reader: "has this structure happened
anywhere?" and "has this happened to us before?" — for free text (a bot, an author writing)
or for a stored review. Visibility, merged copies and possible duplicates are applied here."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from incidents.analysis.similarity import PatternSuggestion
from incidents.models import Incident, PatternScore

from .documents import document_for
from .models import IndexedDocument
from .retrieval import Answer, Match, ask


def reader_groups(user: AbstractBaseUser | AnonymousUser) -> tuple[int, ...] | None:
    """None for a reader who sees every review; else the groups whose restricted reviews
    they may see (the same rule as `Incident.objects.visible_to`)."""
    if user.is_authenticated and user.is_superuser:
        return None
    if not user.is_authenticated:
        return (-1,)  # sees nothing restricted (and the API never lets them ask anyway)
    return tuple(user.groups.values_list("id", flat=True))


def _merged_away() -> frozenset[int]:
    from duplicates.selectors import merged_away_ids

    return frozenset(merged_away_ids())


def similar_to_text(
    *,
    user,
    text: str,
    scope: str = "anywhere",
    organisation: str = "",
    exclude: frozenset[int] = frozenset(),
    query_patterns: list[PatternSuggestion] | None = None,
    limit: int = 5,
    exclude_patterns: frozenset[str] = frozenset(),
) -> Answer:
    """Past incidents like `text`, for this reader, and the patterns it likely shows."""
    return ask(
        text=text,
        visible=Incident.objects.visible_to(user),
        reader_groups=reader_groups(user),
        scope=scope,
        organisation=organisation,
        exclude=exclude | _merged_away(),
        query_patterns=query_patterns,
        limit=limit,
        exclude_patterns=exclude_patterns,
    )


def similar_to_review(
    *, user, incident: Incident, scope: str = "anywhere", limit: int = 5
) -> Answer:
    """Past incidents like a stored review (its whole text and its stored patterns), with
    possible duplicates of it marked."""
    from duplicates.selectors import open_duplicates_of

    scores = (
        PatternScore.objects.filter(incident=incident).select_related("pattern").order_by("-score")
    )
    patterns = [
        PatternSuggestion(s.pattern.slug, s.pattern.name, round(s.score, 3), tuple(s.evidence))
        for s in scores[:8]
    ]
    # The indexed text is the review as last saved; building it again would read the
    # review's factors and timeline on every page view.
    stored = IndexedDocument.objects.filter(incident=incident).values_list("title", "body").first()
    if stored is None:
        document = document_for(incident)
        stored = (document.title, document.body)
    answer = similar_to_text(
        user=user,
        text=f"{stored[0]}\n{stored[1]}",
        scope=scope,
        organisation=incident.organisation,
        exclude=frozenset({incident.pk}),
        query_patterns=patterns,
        limit=limit,
    )
    duplicates = open_duplicates_of(incident.pk)
    if not duplicates:
        return answer
    marked = [_as_duplicate(m) if m.incident.pk in duplicates else m for m in answer.results]
    return Answer(marked, answer.patterns, answer.mechanisms)


def _as_duplicate(match: Match) -> Match:
    from dataclasses import replace

    return replace(
        match,
        possible_duplicate=True,
        duplicate_reasons=("flagged as a possible duplicate of this review",),
    )
