"""The sections of a review a template can require or prompt for, and what makes a template
valid.

A section is named as the review's field or part is (`summary`, `started_at`, `timeline`,
`contributing_factors`, …) and shown to people by its label ("Start time", "Contributing
factors"). Whether a section is filled is read from the review itself, so the check needs
nothing but the stored incident (and its parts, prefetched or not).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from incidents.models import Incident, TimelineEvent

# Longest prompt: a question beside a section, not a second review.
MAX_PROMPT_CHARS = 1000
# Most timeline rows a template may start a review with.
MAX_TIMELINE_ROWS = 30


def _text(name: str) -> Callable[[Incident], bool]:
    return lambda incident: bool((getattr(incident, name) or "").strip())


def _any(related: str) -> Callable[[Incident], bool]:
    # `.all()` rather than `.exists()`: a page that prefetched the parts pays no query.
    return lambda incident: bool(getattr(incident, related).all())


@dataclass(frozen=True)
class Section:
    """One section of a review: its name (as the field or part is called), its label in
    people's words, the editor's form field that holds it (if one field does), and how to
    tell it is filled in."""

    name: str
    label: str
    filled: Callable[[Incident], bool]
    form_field: str | None = None


SECTIONS: tuple[Section, ...] = (
    Section("summary", "Summary", _text("summary"), "summary"),
    Section("impact", "Impact", _text("impact"), "impact"),
    Section(
        "users_affected",
        "Users affected",
        lambda i: bool(i.users_affected.strip()) or i.users_affected_count is not None,
        "users_affected",
    ),
    Section("started_at", "Start time", lambda i: i.started_at is not None, "started_at"),
    Section("narrative", "Narrative", _text("narrative"), "narrative"),
    Section("timeline", "Timeline", _any("timeline")),
    Section("contributing_factors", "Contributing factors", _any("contributing_factors")),
    Section("went_well", "What went well", _text("went_well"), "went_well"),
    Section("where_lucky", "Where we got lucky", _text("where_lucky"), "where_lucky"),
    Section("action_items", "Action items", _any("action_items")),
    Section("shapes", "Emergent shapes", _any("shapes"), "shapes"),
    Section(
        "patterns",
        "Structural patterns",
        # As publishing counts them: a link without its reasoning is not a claim yet.
        lambda i: any(link.rationale.strip() for link in i.pattern_links.all()),
    ),
    Section("components", "Components", _any("components"), "components_text"),
    Section(
        "perrow",
        "Perrow position",
        lambda i: i.complexity is not None and i.coupling is not None,
    ),
)
BY_NAME: dict[str, Section] = {section.name: section for section in SECTIONS}
SECTION_CHOICES: list[tuple[str, str]] = [(s.name, s.label) for s in SECTIONS]
TIMELINE_KINDS: list[tuple[str, str]] = list(TimelineEvent.Kind.choices)


def labels(names: Iterable[str]) -> list[str]:
    """People's words for these section names, in the order the review reads."""
    wanted = set(names)
    return [s.label for s in SECTIONS if s.name in wanted]


def missing_sections(incident: Incident, required: Iterable[str]) -> list[Section]:
    """The required sections still empty on this review, in reading order."""
    wanted = set(required)
    return [s for s in SECTIONS if s.name in wanted and not s.filled(incident)]


def _names_list(value: Any, what: str, known: dict[str, str]) -> list[str]:
    """Errors for a list of names that must each be one of `known` (name → label)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [f"{what} must be a list of names."]
    errors = []
    unknown = [v for v in value if v not in known]
    if unknown:
        errors.append(
            f"Unknown {what.lower()} {', '.join(repr(v) for v in unknown)}. "
            f"Choose from: {', '.join(known)}."
        )
    return errors


def validate_template(
    *, required_sections: Any, timeline_kinds: Any, prompts: Any
) -> dict[str, list[str]]:
    """What is wrong with a template's lists, by field (empty when it is valid).

    Section names and timeline kinds must be ones Seams knows, so a typo ("sumary") is told
    when the template is saved, not discovered when a review cannot be sent for review.
    """
    section_names = {s.name: s.label for s in SECTIONS}
    kinds = dict(TimelineEvent.Kind.choices)
    errors: dict[str, list[str]] = {}
    found = _names_list(required_sections, "Section", section_names)
    if not found and len(set(required_sections)) != len(required_sections):
        found.append("A section is listed twice; list each once.")
    if found:
        errors["required_sections"] = found
    found = _names_list(timeline_kinds, "Timeline kind", kinds)
    if not found and len(timeline_kinds) > MAX_TIMELINE_ROWS:
        found.append(f"At most {MAX_TIMELINE_ROWS} timeline rows to start with.")
    if found:
        errors["timeline_kinds"] = found
    if not isinstance(prompts, dict) or not all(isinstance(v, str) for v in prompts.values()):
        errors["prompts"] = ["Prompts must map a section name to the question's text."]
    else:
        found = _names_list(list(prompts), "Section", section_names)
        too_long = [
            section_names[name]
            for name, text in prompts.items()
            if name in section_names and len(text) > MAX_PROMPT_CHARS
        ]
        if too_long:
            found.append(
                f"A prompt has at most {MAX_PROMPT_CHARS} characters "
                f"(too long: {', '.join(too_long)})."
            )
        if found:
            errors["prompts"] = found
    return errors


def check_template(**lists: Any) -> None:
    """Raise ValidationError (by field) when `validate_template` finds anything wrong."""
    errors = validate_template(**lists)
    if errors:
        raise ValidationError(errors)
