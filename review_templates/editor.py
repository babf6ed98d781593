"""What a review's template brings to the editor: the timeline rows a new review starts
with, and the prompt shown beside each section."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms

from .sections import SECTIONS

if TYPE_CHECKING:
    from .models import ReviewTemplate


def suggested_timeline(template: ReviewTemplate | None) -> list[dict[str, str]]:
    """The initial rows of a new review's timeline: one per kind the template lists, in
    order, with nothing else filled in."""
    return [{"kind": kind} for kind in template.timeline_kinds] if template else []


def show_prompts(form: forms.BaseForm, template: ReviewTemplate | None) -> dict[str, str]:
    """Put the template's prompt for each section held by one field of `form` in front of
    that field's help text, and return every prompt by section name (the editor shows the
    prompts of the parts, such as the timeline, beside their rows)."""
    prompts = dict(template.prompts) if template else {}
    for section in SECTIONS:
        prompt = prompts.get(section.name, "").strip()
        field = form.fields.get(section.form_field or "")
        if prompt and field is not None:
            field.help_text = f"{prompt} {field.help_text}".strip()
    return prompts
