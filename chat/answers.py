"""Answers to chat commands and link previews, as plain data: a heading, some text, sections
of items (a review or a pattern, with its absolute link and, for a similar match, its
confidence and why). Each platform's adapter renders a `Reply` in its own format.

Every answer is for one reader (`chat.readers`): what they may not see is never named, not
even as "hidden"; a review number they may not see reads as not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils.text import Truncator, slugify

from incidents.models import Incident, PatternLink
from similarity.questions import similar_to_text
from similarity.search import text_search
from taxonomy.models import StructuralPattern
from taxonomy.selectors import search_patterns

from . import commands
from .readers import UnrestrictedReader

# How many results one answer lists: enough to choose from, few enough to read in a channel.
LIMIT = 5
EXCERPT = 280
NOT_SHOWN_TEXT = "Open it in Seams to read it (a restricted review is shown only there)"


@dataclass(frozen=True)
class Item:
    """One review or pattern in an answer."""

    title: str
    url: str
    text: str = ""
    details: tuple[str, ...] = ()
    # A similar-incident match's level ("strong", "possible", "weak"), score and reasons.
    confidence: str = ""
    score: float | None = None
    why: str = ""


@dataclass(frozen=True)
class Section:
    """A titled list of items; `empty` says what it means when there are none."""

    title: str
    items: tuple[Item, ...]
    empty: str = ""


@dataclass(frozen=True)
class Reply:
    """A whole answer. `ok` is False for a command Seams could not answer as written."""

    heading: str
    text: str = ""
    sections: tuple[Section, ...] = ()
    note: str = ""
    url: str = ""
    ok: bool = True


def absolute(path: str) -> str:
    """`path` on the address people reach Seams at (chat messages have no request)."""
    return settings.SEAMS_BASE_URL.rstrip("/") + path


def _note_for(reader) -> str:
    if isinstance(reader, UnrestrictedReader):
        return (
            "Answered from unrestricted reviews only: ask a Seams admin to link your chat "
            "account to your Seams account to include the restricted reviews you may read."
        )
    return ""


def answer(command: commands.Command, *, reader) -> Reply:
    """The answer to a parsed command, for this reader."""
    match command:
        case commands.Similar(text=text):
            return similar(text, reader=reader)
        case commands.IncidentById(incident_id=pk):
            return incident_by_id(pk, reader=reader)
        case commands.IncidentSearch(words=words):
            return incident_search(words, reader=reader)
        case commands.PatternLookup(name=name):
            return pattern(name, reader=reader)
    return help_reply()


def help_reply() -> Reply:
    """What the commands are."""
    return Reply(heading="Ask Seams", text=commands.USAGE, url=absolute("/"))


def error_reply(message: str) -> Reply:
    """A command Seams could not answer as written, and how to write it."""
    return Reply(heading="Seams could not answer that", text=message, ok=False)


def _incident_item(incident: Incident, **extra) -> Item:
    details = [incident.get_status_display(), incident.get_severity_display().split(" — ")[0]]
    if incident.started_at:
        details.append(incident.started_at.date().isoformat())
    if incident.organisation:
        details.append(incident.organisation)
    return Item(
        title=incident.title,
        url=absolute(incident.get_absolute_url()),
        details=tuple(details),
        **extra,
    )


def similar(text: str, *, reader) -> Reply:
    """Past incidents like `text` with their confidence and why, and the likely patterns."""
    found = similar_to_text(user=reader, text=text, limit=LIMIT)
    matches = tuple(
        _incident_item(m.incident, confidence=m.confidence, score=round(m.score, 2), why=m.why)
        for m in found.results
    )
    patterns = tuple(
        Item(
            title=p.name,
            url=absolute(reverse("incidents:pattern", args=[p.slug])),
            score=round(p.score, 2),
            why=p.why,
        )
        for p in found.patterns[:3]
    )
    summary = (
        f"Best match: *{found.confidence}* (score {found.score:.2f})."
        if found.results
        else "No similar review found."
    )
    return Reply(
        heading="Have we seen this before?",
        text=summary,
        sections=(
            Section("Similar incidents", matches, empty="No similar review found."),
            Section("Likely patterns", patterns),
        ),
        note=_note_for(reader),
    )


def incident_by_id(incident_id: int, *, reader) -> Reply:
    """One review this reader may see, summarised; not found otherwise."""
    incident = Incident.objects.visible_to(reader).filter(pk=incident_id).first()
    if incident is None:
        # The same words for a review that does not exist and one the reader may not see.
        return error_reply(f"No review #{incident_id} found.")
    return _review_reply(incident, note=_note_for(reader))


def _review_reply(incident: Incident, *, note: str = "") -> Reply:
    """One review summarised: title, excerpt, facts and its structural patterns."""
    patterns = tuple(
        Item(title=link.pattern.name, url=absolute(link.pattern.get_absolute_url()))
        for link in PatternLink.objects.filter(incident=incident).select_related("pattern")
    )
    item = _incident_item(incident, text=Truncator(incident.summary).chars(EXCERPT))
    return Reply(
        heading=Truncator(incident.title).chars(150),
        text=item.text,
        sections=(Section("Review", (item,)), Section("Structural patterns", patterns)),
        url=item.url,
        note=note,
    )


def incident_search(words: str, *, reader) -> Reply:
    """The reviews this reader may see that contain every word, best first."""
    found = text_search(Incident.objects.visible_to(reader), words)[:LIMIT]
    items = tuple(_incident_item(i, text=Truncator(i.summary).chars(160)) for i in found)
    return Reply(
        heading=f"Reviews mentioning “{Truncator(words).chars(100)}”",
        sections=(Section("Reviews", items, empty="No review mentions all of these words."),),
        url=absolute(reverse("incidents:list") + "?" + urlencode({"q": words})),
        note=_note_for(reader),
    )


def find_patterns(name: str) -> list[StructuralPattern]:
    """The pattern called `name` (by slug, name or alias, any case), else those whose
    entry mentions every word of it."""
    wanted = name.strip().lower()
    patterns = list(StructuralPattern.objects.prefetch_related("typical_shapes"))
    for p in patterns:
        names = {p.slug, p.name.lower(), *(a.lower() for a in p.aliases)}
        if wanted in names or slugify(wanted) == p.slug:
            return [p]
    return search_patterns(patterns, query=wanted)


def pattern(name: str, *, reader) -> Reply:
    """A structural pattern: its summary, link and the latest reviews this reader may see
    that show it; or the patterns the name may mean."""
    found = find_patterns(name)
    if not found:
        return error_reply(
            f"No pattern matches “{Truncator(name).chars(60)}”. "
            f"The catalogue: {absolute(reverse('taxonomy:patterns'))}"
        )
    if len(found) > 1:
        items = tuple(
            Item(title=p.name, url=absolute(p.get_absolute_url()), text=p.summary)
            for p in found[:LIMIT]
        )
        return Reply(
            heading=f"Patterns matching “{Truncator(name).chars(60)}”",
            sections=(Section("Patterns", items),),
        )
    chosen = found[0]
    showing = Incident.objects.visible_to(reader).filter(pattern_links__pattern=chosen)
    reviews = tuple(_incident_item(i) for i in showing.order_by("-started_at", "-id")[:3])
    return Reply(
        heading=chosen.name,
        text=chosen.summary,
        sections=(Section("Latest reviews showing it", reviews, empty="No review shows it yet."),),
        url=absolute(chosen.get_absolute_url()),
        note=_note_for(reader),
    )


def review_preview(incident_id: int, url: str) -> Reply:
    """The preview of a review link posted in a channel, which everyone there sees: an
    unrestricted review summarised. A restricted review and a number with no review get the
    same answer — not even the title, and not whether the number exists, so that posting
    links cannot be used to find out which restricted reviews there are."""
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None or incident.restricted_to_id is not None:
        return Reply(heading="Seams review", text=NOT_SHOWN_TEXT, url=url)
    return _review_reply(incident)
