"""One review as an export reads it: every part in people's words, in the order it is shown.

The Markdown and the PDF exports are both built from a `ReviewDocument`, so the two say the
same thing. Internal codes (`structural_fix`, `in_review`, `sev2`) never appear here: each
becomes the label people see in Seams. Times are in UTC, and say so, because an export is
read away from Seams, by someone whose time zone nobody knows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.http import Http404

from incidents.models import ActionItem, Incident
from incidents.permissions import User, can_view

NOT_RECORDED = "Not recorded"


@dataclass(frozen=True)
class TimelineRow:
    """One timeline event: when (UTC), its kind, and the author's Markdown."""

    when: str
    kind: str
    text: str
    why_reasonable: str


@dataclass(frozen=True)
class ActionRow:
    """One action item, every value as people read it."""

    title: str
    owner: str
    status: str
    due: str
    leverage: str
    kind: str
    pattern: str
    tracker_url: str


@dataclass(frozen=True)
class PatternRow:
    """A linked structural pattern and the author's reasoning (Markdown)."""

    name: str
    rationale: str


@dataclass(frozen=True)
class ReviewDocument:
    """Everything an export of one review shows. `facts` are plain text; `sections`, the
    timeline texts, the factors and the rationales are the author's Markdown, unchanged."""

    title: str
    url: str
    facts: list[tuple[str, str]]
    restricted_to: str
    summary: str
    impact: str
    timeline: list[TimelineRow]
    narrative: str
    factors: list[str]
    went_well: str
    where_lucky: str
    patterns: list[PatternRow]
    actions: list[ActionRow]
    exported_at: str


def utc(moment: dt.datetime | None) -> str:
    """A moment as `2024-11-19 00:51 UTC`, or "Not recorded"."""
    if moment is None:
        return NOT_RECORDED
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def person_words(user) -> str:
    """A person as their colleagues know them: full name, else username."""
    return (user.get_full_name() or "").strip() or user.get_username()


def owner_words(item: ActionItem) -> str:
    """Who owns an action item: a person in Seams, a team in Seams, or the owner as written
    (an imported write-up's "SRE team")."""
    if item.owner_user is not None:
        return person_words(item.owner_user)
    if item.owner_team is not None:
        return f"{item.owner_team.name} (team)"
    return item.owner.strip() or "Unowned"


def severity_words(incident: Incident) -> str:
    """The severity as the review page says it ("SEV2 — major", "Unknown")."""
    return incident.get_severity_display()


def review_url(incident: Incident) -> str:
    """The review's address in Seams, for readers of an export who may open it there."""
    return settings.SEAMS_BASE_URL.rstrip("/") + incident.get_absolute_url()


def exportable_review(user: User, pk: int) -> Incident:
    """The review `pk` with everything an export reads, if `user` may see it.

    A review the user may not see answers exactly as an unknown one (Http404), so an export
    link tells nobody that a restricted review exists.
    """
    incident = Incident.objects.with_review_parts().filter(pk=pk).first()
    if incident is None or not can_view(user, incident):
        raise Http404("No Incident matches the given query.")
    return incident


def _users_affected(incident: Incident) -> str:
    count, words = incident.users_affected_count, incident.users_affected.strip()
    if count is not None:
        counted = f"{count:,} user{'s' if count != 1 else ''}"
        return f"{counted}; {words}" if words else counted
    return f"{words} (number unknown)" if words else NOT_RECORDED


def _facts(incident: Incident) -> list[tuple[str, str]]:
    components = [c.name for c in incident.components.all()]
    shapes = [s.name for s in incident.shapes.all()]
    facts = [
        ("Severity", severity_words(incident)),
        ("Status", incident.get_status_display()),
        ("Organisation", incident.organisation.strip() or "Our own"),
        ("Started", utc(incident.started_at)),
        ("Detected", utc(incident.detected_at)),
        ("Mitigated", utc(incident.mitigated_at)),
        ("Resolved", utc(incident.resolved_at)),
        ("Users affected", _users_affected(incident)),
        ("Components", ", ".join(components) or "None recorded"),
        ("Emergent shapes", ", ".join(shapes) or "None chosen"),
    ]
    if incident.complexity or incident.coupling:
        facts.append(
            (
                "Perrow position",
                f"interactive complexity {incident.complexity or '?'} of 5, "
                f"coupling {incident.coupling or '?'} of 5",
            )
        )
    if incident.created_by is not None:
        facts.append(("Written by", person_words(incident.created_by)))
    facts.append(("Version", str(incident.version)))
    if incident.source_url:
        facts.append(("Original report", incident.source_url))
    return facts


def _action(item: ActionItem) -> ActionRow:
    return ActionRow(
        title=item.title,
        owner=owner_words(item),
        status=item.get_status_display(),
        due=item.due.isoformat() if item.due else "",
        # "12. Constants, parameters, numbers": Meadows' number and name, as Seams shows it.
        leverage=str(item.leverage_level) if item.leverage_level else "",
        kind=item.get_kind_display(),
        pattern=item.pattern.name if item.pattern else "",
        tracker_url=item.tracker_url,
    )


def review_document(incident: Incident, *, now: dt.datetime | None = None) -> ReviewDocument:
    """Everything one export of `incident` shows (see `exportable_review` for the loading)."""
    now = now or dt.datetime.now(dt.UTC)
    return ReviewDocument(
        title=incident.title,
        url=review_url(incident),
        facts=_facts(incident),
        restricted_to=incident.restricted_to.name if incident.restricted_to else "",
        summary=incident.summary,
        impact=incident.impact,
        timeline=[
            TimelineRow(
                when=utc(event.occurred_at),
                kind=event.get_kind_display(),
                text=event.text,
                why_reasonable=event.why_reasonable,
            )
            for event in incident.timeline.all()
        ],
        narrative=incident.narrative,
        factors=[factor.text for factor in incident.contributing_factors.all()],
        went_well=incident.went_well,
        where_lucky=incident.where_lucky,
        patterns=[
            PatternRow(name=link.pattern.name, rationale=link.rationale)
            for link in incident.pattern_links.all()
        ],
        actions=[_action(item) for item in incident.action_items.all()],
        exported_at=utc(now),
    )
