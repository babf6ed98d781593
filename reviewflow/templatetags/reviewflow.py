"""The review page's workflow parts: `{% load reviewflow %}`, then `{% review_panel … %}`
(who was asked, where each stands, Approve / Request changes, Publish and what it still
needs) and `{% review_threads incident %}` (the comment threads, by section)."""

from __future__ import annotations

from django import template

from incidents.models import Incident
from reviewflow import gate, threads

register = template.Library()


@register.inclusion_tag("reviewflow/panel.html", takes_context=True)
def review_panel(context, incident: Incident, missing: list[str], may_publish: bool) -> dict:
    """The review panel for this reader. `missing` is the sections the review still lacks
    and `may_publish` whether the reader may press Publish (both from the page's view)."""
    user = context["request"].user
    state = gate.review_state(incident)
    in_review = incident.status == Incident.Status.IN_REVIEW
    mine = next((s for s in state.standings if s.reviewer.pk == user.pk), None)
    return {
        "incident": incident,
        "state": state,
        "in_review": in_review,
        "may_decide": in_review and gate.can_decide(user, incident),
        "mine": mine,
        "may_publish": may_publish,
        # The sections are listed just above the panel: named here once, not repeated.
        "still_needed": [
            *(["the missing sections listed above"] if missing else []),
            *state.reasons,
        ],
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("reviewflow/threads.html", takes_context=True)
def review_threads(context, incident: Incident) -> dict:
    """The review's comment threads, by section, with reply and resolve forms for this
    reader. Reads `incident.comments.all()`: prefetch it (with authors) to pay nothing."""
    request = context["request"]
    user = request.user
    may_edit = context.get("may", {}).get("edit", False)
    grouped = threads.threads_by_section(list(incident.comments.all()))
    for group in grouped:
        for thread in group.threads:
            opened_it = thread.opener.author_id is not None and thread.opener.author_id == user.pk
            thread.may_resolve = may_edit or opened_it
    draft = request.session.get("comment_draft") or {}
    return {
        "incident": incident,
        "groups": grouped,
        "sections": threads.SECTIONS,
        "draft": draft.get("body", "") if draft.get("incident") == incident.pk else "",
        "csrf_token": context.get("csrf_token"),
    }
