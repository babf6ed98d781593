"""Admin forms that let an editor change a catalogue entry section by section, never as JSON.

A pattern's sections live in one JSONField (`entry`). These forms give each section its own
field: lists are edited one item per line, paragraphs as plain text, phrases and evidence as
"left | right" lines. On save only the sections the editor actually changed are written back,
and keys the form does not know about are kept, so an untouched shipped entry keeps its digest
and `sync_catalogue` does not mistake a mere "Save" for a local edit.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from .models import EmergentShape, LeverageLevel, PatternRelation, StructuralPattern
from .round_trip import KeepsUnchangedValues

BLAST_RADIUS_CHOICES = [
    ("delivery", "Delivery (shipping changes)"),
    ("operations", "Operations (running the service)"),
    ("team", "Team (people and how they work)"),
    ("business", "Business (customers, revenue, reputation)"),
]

# An incident key is a slug such as "cloudflare-waf-2019"; anything with spaces is almost
# certainly a note typed without the leading "|".
_INCIDENT_KEY = re.compile(r"^[-a-zA-Z0-9_]+$")

# How long a line is quoted in an error message before it is cut short.
_QUOTE_LIMIT = 60


def _text_lines(value: str) -> list[str]:
    """Lines of a textarea, with browser line endings (CRLF) normalised."""
    return value.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _quote(line: str) -> str:
    """A line as quoted in an error message, shortened so the message stays readable."""
    line = line.strip()
    if len(line) > _QUOTE_LIMIT:
        line = line[: _QUOTE_LIMIT - 1] + "…"
    return f"“{line}”"


def _has_changed(field: forms.Field, initial: Any, data: Any) -> bool:
    """Whether the submitted text means something other than the stored value.

    Both sides are parsed the same way, so a stored value the editor did not touch counts as
    unchanged even if parsing would tidy it (extra keys in a phrase, stray whitespace): it is
    then left exactly as stored instead of being rewritten.
    """
    if field.disabled:
        return False
    try:
        return field.to_python(data) != field.to_python(initial)
    except ValidationError:
        return True


def _textarea(rows: int) -> forms.Textarea:
    """A full-width admin textarea of the given height."""
    return forms.Textarea(attrs={"rows": rows, "class": "vLargeTextField"})


class LinesField(forms.Field):
    """A list of strings edited one item per line; blank lines are ignored, items stripped."""

    widget = forms.Textarea

    def __init__(self, *, rows: int = 4, **kwargs: Any) -> None:
        """Optional by default: a draft local entry may leave a section empty."""
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", _textarea(rows))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        """Show a stored list as lines; submitted text is shown back exactly as typed."""
        if isinstance(value, (list, tuple)):
            return "\n".join(str(item) for item in value)
        return value

    def has_changed(self, initial: Any, data: Any) -> bool:
        """Compare parsed with parsed; see _has_changed."""
        return _has_changed(self, initial, data)

    def to_python(self, value: Any) -> list[str]:
        """Parse the textarea into a list of non-empty, stripped items."""
        if value in self.empty_values:
            return []
        if isinstance(value, (list, tuple)):
            # The stored list goes through here when has_changed() compares.
            return [str(item).strip() for item in value if str(item).strip()]
        return [line.strip() for line in _text_lines(str(value)) if line.strip()]


class ParagraphField(forms.CharField):
    """A free-text section (a sentence or a paragraph), stripped, with Unix line endings."""

    def __init__(self, *, rows: int = 3, **kwargs: Any) -> None:
        """Optional by default, like LinesField."""
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", _textarea(rows))
        super().__init__(**kwargs)

    def has_changed(self, initial: Any, data: Any) -> bool:
        """Compare parsed with parsed; see _has_changed."""
        return _has_changed(self, initial, data)

    def to_python(self, value: Any) -> str:
        """Normalise CRLF so a paragraph saved from a browser compares equal to the stored one."""
        text = super().to_python(value)
        return "\n".join(_text_lines(text)) if text else text


class PairLinesField(LinesField):
    """A list of two-key dicts edited as lines "left | right".

    Subclasses name the two keys and decide how a line is split and checked; every bad line
    is reported at once, by number and text, so the editor can fix them in one go.
    """

    left_key = ""
    right_key = ""

    def prepare_value(self, value: Any) -> Any:
        """Show stored items as "left | right" lines (an empty left side as "| right")."""
        if isinstance(value, (list, tuple)):
            lines = []
            for item in value:
                if isinstance(item, dict):
                    left = str(item.get(self.left_key, "")).strip()
                    right = str(item.get(self.right_key, "")).strip()
                    lines.append(f"{left} | {right}" if left else f"| {right}")
                else:
                    lines.append(str(item))
            return "\n".join(lines)
        return value

    def to_python(self, value: Any) -> list[dict[str, str]]:
        """Parse each non-blank line into a dict, collecting an error for each bad line."""
        if value in self.empty_values:
            return []
        if isinstance(value, (list, tuple)):
            # Stored items arrive here from has_changed(): parse them as the editor saw them.
            value = self.prepare_value(value)
        items: list[dict[str, str]] = []
        errors: list[ValidationError] = []
        for number, line in enumerate(_text_lines(str(value)), start=1):
            if not line.strip():
                continue
            try:
                left, right = self.parse_line(line)
            except ValidationError as error:
                errors.append(
                    ValidationError(
                        "Line %(number)s, %(line)s: %(problem)s",
                        code="bad_line",
                        params={
                            "number": number,
                            "line": _quote(line),
                            "problem": " ".join(error.messages),
                        },
                    )
                )
                continue
            items.append({self.left_key: left, self.right_key: right})
        if errors:
            raise ValidationError(errors)
        return items

    def parse_line(self, line: str) -> tuple[str, str]:
        """Split one line into (left, right) or raise ValidationError saying what is wrong."""
        raise NotImplementedError


class PhrasesField(PairLinesField):
    """Phrases heard in the wild, as lines "what was said | who said it"."""

    left_key = "text"
    right_key = "said_by"

    def parse_line(self, line: str) -> tuple[str, str]:
        """Split at the last "|": a quote may contain a pipe, a role hardly ever does."""
        if "|" not in line:
            raise ValidationError("write it as “what was said | who said it” (the “|” is missing).")
        text, said_by = (part.strip() for part in line.rsplit("|", 1))
        if not text:
            raise ValidationError("the phrase before “|” is empty.")
        if not said_by:
            raise ValidationError("say who says it after “|”, e.g. “engineer in a change review”.")
        return text, said_by


class EvidenceField(PairLinesField):
    """Evidence from incidents, as lines "incident-key | note" ("| note" for a general case)."""

    left_key = "incident"
    right_key = "note"

    def parse_line(self, line: str) -> tuple[str, str]:
        """Split at the first "|": an incident key never contains one, a note might."""
        if "|" not in line:
            raise ValidationError(
                "write it as “incident-key | note”, or “| note” for a general case "
                "(the “|” is missing)."
            )
        incident, note = (part.strip() for part in line.split("|", 1))
        if incident and not _INCIDENT_KEY.match(incident):
            raise ValidationError(
                "the incident key before “|” must be one word such as “cloudflare-waf-2019”; "
                "leave it empty for a general case."
            )
        if not note:
            raise ValidationError("the note after “|” is empty.")
        return incident, note


class KeepsUnchangedText(KeepsUnchangedValues):
    """The round-trip rule (see `taxonomy.round_trip`) for the catalogue's forms, whose
    one-item-per-line lists are text to the browser too."""

    round_trip_fields = (*KeepsUnchangedValues.round_trip_fields, LinesField)


class LeverageLevelAdminForm(KeepsUnchangedText, forms.ModelForm):
    """A leverage level's columns; text saved untouched stays exactly as stored."""

    class Meta:
        model = LeverageLevel
        fields = ["number", "slug", "name", "description", "in_operations", "depth"]


class PatternRelationAdminForm(KeepsUnchangedText, forms.ModelForm):
    """A relation row on its pattern's page; its note saved untouched stays as stored."""

    class Meta:
        model = PatternRelation
        fields = ["source", "target", "kind", "note"]


class EntrySectionsForm(KeepsUnchangedText, forms.ModelForm):
    """A model form whose extra fields are sections of the instance's `entry` JSON.

    Subclasses list them in `entry_sections`: form field name -> path of keys inside `entry`.
    """

    entry_sections: dict[str, tuple[str, ...]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Fill each section field's initial value from the instance's entry."""
        super().__init__(*args, **kwargs)
        entry = self.instance.entry if isinstance(self.instance.entry, dict) else {}
        for name, path in self.entry_sections.items():
            if name not in self.fields:
                continue
            # An empty value of the field's own type for a missing section, so that leaving it
            # empty does not count as a change (and does not add an empty key on save).
            empty = self.fields[name].to_python(None)
            # setdefault: initial data passed explicitly (e.g. from the add page's query
            # string) wins over the instance, as in any ModelForm.
            self.initial.setdefault(name, _get_path(entry, path, empty))
            field = self.fields[name]
            initial = self.initial[name]
            if isinstance(field, forms.MultipleChoiceField) and isinstance(initial, list):
                # A stored value outside the standard choices would have no checkbox and
                # vanish on the next save; offer it so the editor decides.
                known = {str(value) for value, _ in field.choices}
                field.choices = [
                    *field.choices,
                    *((v, f"{v} (not a standard choice)") for v in initial if str(v) not in known),
                ]

    def entry_from_sections(self) -> dict[str, Any]:
        """The instance's entry with the edited sections written in and every other key kept.

        A new object gets every section (empty ones included) so its entry has the full
        schema; an existing one gets only the sections that changed, so an entry saved without
        edits stays identical to what was stored.
        """
        entry = copy.deepcopy(self.instance.entry) if isinstance(self.instance.entry, dict) else {}
        adding = self.instance._state.adding
        for name, path in self.entry_sections.items():
            if name not in self.cleaned_data:
                continue
            if adding or name in self.changed_data:
                _set_path(entry, path, self.cleaned_data[name])
        return entry

    def save(self, commit: bool = True) -> Any:
        """Write the sections into `entry`, then save as usual."""
        self.instance.entry = self.entry_from_sections()
        return super().save(commit)


def _get_path(entry: dict[str, Any], path: tuple[str, ...], default: Any) -> Any:
    """The value at `path` inside nested dicts, or `default` if any step is missing."""
    value: Any = entry
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return default
        value = value[key]
    return value


def _set_path(entry: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set the value at `path`, creating (or replacing non-dict) parents as needed."""
    *parents, last = path
    node = entry
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[last] = value


class StructuralPatternAdminForm(EntrySectionsForm):
    """Every section of a structural pattern as its own field; `entry` itself is not shown."""

    aliases = LinesField(
        label="Other names",
        rows=3,
        help_text="One per line: other names people use for this pattern (2–5).",
    )

    # Definition: recognising the pattern.
    why_it_looks_healthy = LinesField(
        label="Why it looks healthy",
        help_text="One per line: the observable tells that make things look fine (3–5).",
    )
    mistaken_for = LinesField(
        label="Often mistaken for",
        rows=3,
        help_text="One per line: what people take the pattern for (1–3).",
    )
    first_noticed_by = LinesField(
        label="Who notices it first",
        rows=3,
        help_text="One role per line, e.g. “on-call engineer” (2–4).",
    )
    blast_radius = forms.MultipleChoiceField(
        label="Blast radius",
        choices=BLAST_RADIUS_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Which parts of the organisation it usually hurts.",
    )
    contributing_conditions = LinesField(
        label="Contributing conditions",
        help_text="One per line: conditions that make the pattern likely (3–5).",
    )

    # How it unfolds.
    unfolds_starts = ParagraphField(label="How it starts", help_text="One or two sentences.")
    unfolds_feels_reasonable_because = ParagraphField(
        label="Why it feels reasonable",
        help_text="Why the people involved see nothing wrong at the time.",
    )
    unfolds_escalates = ParagraphField(
        label="How it escalates", help_text="How it grows from harmless to dangerous."
    )
    unfolds_ends = ParagraphField(
        label="How it ends", help_text="What the failure looks like when it finally happens."
    )

    # Warning signs.
    warning_signs_early = LinesField(
        label="Early warning signs",
        help_text="One per line: signs visible long before anything fails.",
    )
    warning_signs_mid = LinesField(
        label="Mid-stage warning signs",
        help_text="One per line: signs visible once the pattern is well established.",
    )
    warning_signs_late = LinesField(
        label="Late warning signs",
        help_text="One per line: signs visible as, or just before, it fails.",
    )

    # Response.
    response_first_move = ParagraphField(
        label="First move", help_text="The first thing to do when the pattern is active."
    )
    response_hard_tradeoff = ParagraphField(
        label="The hard trade-off", help_text="What has to be given up to break the pattern."
    )
    response_recovery_trap = ParagraphField(
        label="Recovery trap", help_text="The tempting recovery step that makes matters worse."
    )
    response_immediate_actions = LinesField(
        label="Immediate actions", help_text="One per line: what to do during the incident."
    )
    response_structural_fixes = LinesField(
        label="Structural fixes", help_text="One per line: changes that remove the structure."
    )
    response_what_not_to_do = LinesField(
        label="What not to do", rows=3, help_text="One per line: common responses to avoid."
    )

    # Notes from practice and phrases.
    notes_best_moment = ParagraphField(
        label="Best moment to intervene",
        help_text="When intervening changes the trajectory.",
    )
    notes_counter_move = ParagraphField(
        label="Counter-move", help_text="The specific action that breaks the pattern."
    )
    notes_false_positive = ParagraphField(
        label="False positive",
        help_text="When this looks like the pattern but is in fact the right call.",
    )
    phrases = PhrasesField(
        label="Phrases heard in the wild",
        rows=3,
        help_text=(
            "One per line as “what was said | who said it”, e.g. “It’s just a config change, "
            "it doesn’t need the canary. | engineer in a change review” (1–3)."
        ),
    )

    # Evidence and matching.
    evidence = EvidenceField(
        label="Evidence from incidents",
        rows=3,
        help_text=(
            "One per line as “incident-key | note”, e.g. “cloudflare-waf-2019 | The faulty "
            "rule reached every server within seconds.” For a general case leave the key "
            "empty: “| note” (1–3)."
        ),
    )
    match_terms = LinesField(
        label="Match terms",
        rows=6,
        help_text=(
            "One per line: short phrases or words that show the mechanism in a review’s text, "
            "without naming a component (6–15)."
        ),
    )

    entry_sections = {
        "why_it_looks_healthy": ("why_it_looks_healthy",),
        "mistaken_for": ("mistaken_for",),
        "first_noticed_by": ("first_noticed_by",),
        "blast_radius": ("blast_radius",),
        "contributing_conditions": ("contributing_conditions",),
        "unfolds_starts": ("unfolds", "starts"),
        "unfolds_feels_reasonable_because": ("unfolds", "feels_reasonable_because"),
        "unfolds_escalates": ("unfolds", "escalates"),
        "unfolds_ends": ("unfolds", "ends"),
        "warning_signs_early": ("warning_signs", "early"),
        "warning_signs_mid": ("warning_signs", "mid"),
        "warning_signs_late": ("warning_signs", "late"),
        "response_first_move": ("response", "first_move"),
        "response_hard_tradeoff": ("response", "hard_tradeoff"),
        "response_recovery_trap": ("response", "recovery_trap"),
        "response_immediate_actions": ("response", "immediate_actions"),
        "response_structural_fixes": ("response", "structural_fixes"),
        "response_what_not_to_do": ("response", "what_not_to_do"),
        "notes_best_moment": ("notes_from_practice", "best_moment"),
        "notes_counter_move": ("notes_from_practice", "counter_move"),
        "notes_false_positive": ("notes_from_practice", "false_positive"),
        "phrases": ("phrases",),
        "evidence": ("evidence",),
        "match_terms": ("match_terms",),
    }

    class Meta:
        """Every column but `entry` (replaced by the section fields above) and the shipped
        bookkeeping, which only the catalogue loader writes."""

        model = StructuralPattern
        fields = ["name", "slug", "aliases", "summary", "definition", "typical_shapes"]
        labels = {"typical_shapes": "Typical shapes"}
        help_texts = {
            "slug": "Lower-case words joined by hyphens; used in addresses. "
            "Shipped patterns keep theirs so upgrades can find them.",
            "summary": "One sentence: the structure in plain words.",
            "definition": "A paragraph: what the structure is, independent of any component.",
            "typical_shapes": "The emergent shapes this pattern most often produces.",
        }
        widgets = {"summary": _textarea(2), "definition": _textarea(6)}


class EmergentShapeAdminForm(EntrySectionsForm):
    """The sections of an emergent shape as their own fields; `entry` itself is not shown."""

    recognise = LinesField(
        label="Recognition questions",
        rows=6,
        help_text="One question per line that a review author can answer (4–6).",
    )
    distinguishes = ParagraphField(
        label="What sets it apart",
        rows=5,
        help_text="A paragraph: what separates this shape from the other three.",
    )
    canonical_incident = ParagraphField(
        label="Canonical incident",
        rows=6,
        help_text="A paragraph on the incident that shows the shape most clearly.",
    )
    canonical_incident_key = forms.CharField(
        label="Canonical incident key",
        required=False,
        help_text="The key of that incident among the demo incidents, e.g. “aws-s3-2017”.",
    )
    composes_with = ParagraphField(
        label="How it combines with other shapes",
        rows=5,
        help_text="A paragraph: how this shape combines with the other three.",
    )
    typical_patterns = LinesField(
        label="Typical patterns",
        help_text="One structural pattern slug per line, e.g. “retry-amplification”.",
    )

    entry_sections = {
        "recognise": ("recognise",),
        "distinguishes": ("distinguishes",),
        "canonical_incident": ("canonical_incident",),
        "canonical_incident_key": ("canonical_incident_key",),
        "composes_with": ("composes_with",),
        "typical_patterns": ("typical_patterns",),
    }

    class Meta:
        """Every column but `entry`, which the section fields above replace."""

        model = EmergentShape
        fields = ["name", "slug", "position", "summary", "definition"]
        help_texts = {
            "summary": "One sentence in plain words.",
            "definition": "A paragraph: what the shape is, independent of any component.",
            "position": "Display order; lower comes first.",
        }
        widgets = {"summary": _textarea(2), "definition": _textarea(6)}
