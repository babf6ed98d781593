"""Forms for defining a review template, and for choosing one when a review is created."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from incidents.models import TimelineEvent

from .models import ReviewTemplate
from .sections import MAX_PROMPT_CHARS, MAX_TIMELINE_ROWS, SECTION_CHOICES, SECTIONS
from .selectors import default_template, looks_like_id

KIND_NAMES = ", ".join(TimelineEvent.Kind.values)


def parse_kinds(text: str) -> list[str]:
    """Timeline kinds written as "Trigger, detection; mitigation" (names or labels, any
    case, separated by commas, semicolons or lines), in order; ValidationError naming the
    words that are no kind."""
    by_word = {value: value for value in TimelineEvent.Kind.values}
    by_word |= {label.lower(): value for value, label in TimelineEvent.Kind.choices}
    words = [w.strip() for w in re.split(r"[,;\n]", text) if w.strip()]
    unknown = [w for w in words if w.lower() not in by_word]
    if unknown:
        raise forms.ValidationError(
            f"Not a timeline kind: {', '.join(unknown)}. The kinds are: {KIND_NAMES}."
        )
    if len(words) > MAX_TIMELINE_ROWS:
        raise forms.ValidationError(
            f"At most {MAX_TIMELINE_ROWS} rows to start with ({len(words)} given)."
        )
    return [by_word[w.lower()] for w in words]


def prompt_field(name: str) -> str:
    return f"prompt_{name}"


class ReviewTemplateForm(forms.ModelForm):
    """A template's name and description, the sections it requires, the timeline rows it
    starts a review with, and a prompt per section."""

    required_sections = forms.MultipleChoiceField(
        label="Required before review",
        choices=SECTION_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="A review written from this template cannot be sent for review while one "
        "of these is empty.",
    )
    timeline_kinds = forms.CharField(
        label="Timeline rows to start with",
        required=False,
        max_length=2000,
        help_text="Kinds in order, separated by commas, e.g. “trigger, detection, mitigation, "
        f"recovery”. Each becomes an empty row of that kind in a new review. Kinds: {KIND_NAMES}.",
    )
    make_default = forms.BooleanField(
        label="Default template",
        required=False,
        help_text="Preselected when someone writes a new review. Only one template is the "
        "default: choosing this one replaces the current default.",
    )

    class Meta:
        model = ReviewTemplate
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"description": "What the template is for; shown when choosing one."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        template = self.instance
        for section in SECTIONS:
            self.fields[prompt_field(section.name)] = forms.CharField(
                label=section.label,
                required=False,
                max_length=MAX_PROMPT_CHARS,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
        if template.pk:
            self.initial.setdefault("required_sections", template.required_sections)
            self.initial.setdefault("timeline_kinds", ", ".join(template.timeline_kinds))
            self.initial.setdefault("make_default", template.is_default)
            for name, text in template.prompts.items():
                self.initial.setdefault(prompt_field(name), text)

    def prompt_fields(self) -> list[forms.BoundField]:
        """The prompt fields, in the order the review reads."""
        return [self[prompt_field(section.name)] for section in SECTIONS]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if looks_like_id(name):
            raise forms.ValidationError(
                "A name needs a letter: a number alone would read as a template's id."
            )
        taken = ReviewTemplate.objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(f"There is already a template called “{name}”.")
        return name

    def clean_timeline_kinds(self) -> list[str]:
        return parse_kinds(self.cleaned_data["timeline_kinds"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # Only what passed validation reaches the template; the model checks it again.
        if "required_sections" in data:
            chosen = set(data["required_sections"])
            self.instance.required_sections = [s.name for s in SECTIONS if s.name in chosen]
        if "timeline_kinds" in data:
            self.instance.timeline_kinds = data["timeline_kinds"]
        self.instance.prompts = {
            section.name: data[prompt_field(section.name)].strip()
            for section in SECTIONS
            if data.get(prompt_field(section.name), "").strip()
        }
        return data


class TemplateChoiceForm(forms.Form):
    """Which template a new review is written from. Not sent at all: the default."""

    template = forms.ModelChoiceField(
        label="Review template",
        queryset=ReviewTemplate.objects.order_by("name"),
        required=False,
        empty_label="No template",
        error_messages={
            "invalid_choice": "That template does not exist (any more); choose another.",
        },
        help_text="What the review must contain before it goes to review, and the questions "
        "beside each section.",
    )

    def __init__(self, data=None, **kwargs: Any) -> None:
        if data is not None and "template" not in data:
            data = None
        super().__init__(data, **kwargs)
        if not self.is_bound:
            self.initial["template"] = default_template()

    def chosen(self) -> ReviewTemplate | None:
        """The template chosen: the default when none was sent, None when "No template" was
        chosen or the choice is invalid (its error says so)."""
        if not self.is_bound:
            return self.initial["template"]
        return self.cleaned_data["template"] if self.is_valid() else None

    def is_acceptable(self) -> bool:
        """Valid, or not sent at all (then the default applies)."""
        return not self.is_bound or self.is_valid()
