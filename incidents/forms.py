"""The review form: the incident's fields plus formsets for its parts.

Forms validate and translate; `review_content()` hands the services a `ReviewContent`.
"""

from __future__ import annotations

import csv
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.validators import MaxLengthValidator
from django.forms import formset_factory

from review_templates.editor import show_prompts, suggested_timeline
from review_templates.models import ReviewTemplate
from taxonomy.catalogue import perrow_axes
from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern
from taxonomy.round_trip import KeepsUnchangedValues

from .bounds import MAX_DB_INT
from .models import ActionItem, Incident, TimelineEvent
from .services import ActionEntry, PatternClaim, ReviewContent, TimelineEntry

# The only formats `type=date` and `type=datetime-local` inputs read: anything else (such as
# the locale's "15/12/2026") is shown as empty, and the next save would clear the value.
DATE_FORMAT = "%Y-%m-%d"
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
SECTION_LIMIT = MaxLengthValidator(
    settings.SEAMS_MAX_SECTION_CHARS,
    message="This section is too long: at most %(limit_value)d characters (it has %(show_value)d).",
)
MARKDOWN_FIELDS = ("summary", "impact", "narrative", "went_well", "where_lucky")


def perrow_choices(axis_slug: str) -> list[tuple[str, str]]:
    """Select choices for one Perrow axis: "3 — label" for each score, blank first."""
    axis = next(a for a in perrow_axes() if a["slug"] == axis_slug)
    return [("", "Not scored")] + [
        (str(level["score"]), f"{level['score']} — {level['label']}") for level in axis["levels"]
    ]


def _datetime_widget() -> forms.DateTimeInput:
    # Seconds are kept (step=1), so saving a review never rounds its recorded times.
    return forms.DateTimeInput(
        attrs={"type": "datetime-local", "step": "1"}, format=DATETIME_FORMAT
    )


def date_widget() -> forms.DateInput:
    """A browser date picker that shows the value it is given (ISO, whatever the locale)."""
    return forms.DateInput(attrs={"type": "date"}, format=DATE_FORMAT)


def component_list(names: list[str]) -> str:
    """Names for the components field: comma-separated, a name with a comma or quote quoted
    (as in CSV), so every name reads back as itself."""
    return ", ".join(
        '"' + name.replace('"', '""') + '"' if "," in name or '"' in name else name
        for name in names
    )


def parse_component_list(text: str) -> list[str]:
    """The names in a components field (the inverse of `component_list`)."""
    line = " ".join(text.splitlines())
    try:
        return next(csv.reader([line], skipinitialspace=True, strict=True), [])
    except csv.Error as error:
        raise forms.ValidationError(
            f"Components could not be read ({error}). Separate names with commas; put a "
            "name that contains a comma in double quotes."
        ) from error


class IncidentForm(KeepsUnchangedValues, forms.ModelForm):
    """The incident's own fields; its parts come from the formsets below."""

    components_text = forms.CharField(
        label="Components involved",
        required=False,
        help_text=(
            "Comma-separated, e.g. “WAF Managed Rules, Quicksilver”; quote a name with a comma "
            "in it. New ones are created."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Incident
        # Status changes go through the workflow (request review, publish), not this form.
        fields = [
            "title",
            "severity",
            "started_at",
            "detected_at",
            "mitigated_at",
            "resolved_at",
            "summary",
            "impact",
            "users_affected",
            "users_affected_count",
            "narrative",
            "went_well",
            "where_lucky",
            "shapes",
            "complexity",
            "coupling",
            "restricted_to",
            "organisation",
            "timeline_names_allowed",
        ]
        widgets = {
            "started_at": _datetime_widget(),
            "detected_at": _datetime_widget(),
            "mitigated_at": _datetime_widget(),
            "resolved_at": _datetime_widget(),
            "shapes": forms.CheckboxSelectMultiple,
            **{name: forms.Textarea(attrs={"rows": 5}) for name in MARKDOWN_FIELDS},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shapes"].queryset = EmergentShape.objects.order_by("position")
        self.fields[
            "users_affected_count"
        ].help_text = (
            "Leave empty when nobody knows. Reports add up this number only, never the words above."
        )
        # "Unknown" is what an import records when a write-up does not say how severe it
        # was. Whoever writes a review knows, so it is offered only to a review that has it
        # already: kept when saved untouched, replaced by a real level when someone decides.
        if self.instance.severity != Incident.Severity.UNKNOWN or not self.instance.pk:
            self.fields["severity"].choices = [
                choice
                for choice in self.fields["severity"].choices
                if choice[0] != Incident.Severity.UNKNOWN
            ]
        # Perrow scores carry their meaning in the choice labels, so authors score alike.
        for name, axis in (("complexity", "interactive-complexity"), ("coupling", "coupling")):
            self.fields[name].widget = forms.Select(choices=perrow_choices(axis))
        for name in MARKDOWN_FIELDS:
            self.fields[name].validators.append(SECTION_LIMIT)
            self.fields[name].help_text = "Markdown."
        if self.instance.pk:
            # Also when bound: an unchanged field keeps its stored value (see above).
            self.initial["components_text"] = component_list(
                [c.name for c in self.instance.components.all()]
            )
            self.initial["version"] = self.instance.version

    def clean_components_text(self) -> str:
        parse_component_list(self.cleaned_data["components_text"])
        return self.cleaned_data["components_text"]

    def component_names(self) -> list[str]:
        return [n.strip() for n in parse_component_list(self.cleaned_data["components_text"])]


class TimelineEventForm(KeepsUnchangedValues, forms.Form):
    occurred_at = forms.DateTimeField(label="When", widget=_datetime_widget())
    kind = forms.ChoiceField(
        choices=TimelineEvent.Kind.choices, initial=TimelineEvent.Kind.OBSERVATION
    )
    # Markdown of any length: a one-line input would drop its line breaks.
    text = forms.CharField(
        label="What happened",
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[SECTION_LIMIT],
    )
    why_reasonable = forms.CharField(
        label="Why it looked right at the time",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[SECTION_LIMIT],
    )


class FactorForm(KeepsUnchangedValues, forms.Form):
    text = forms.CharField(
        label="Contributing factor",
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[SECTION_LIMIT],
    )


class PersonChoiceField(forms.ModelChoiceField):
    """A person by name and username (usernames alone are hard to tell apart)."""

    def label_from_instance(self, obj) -> str:
        full = obj.get_full_name() if hasattr(obj, "get_full_name") else ""
        return f"{full} ({obj.get_username()})" if full else obj.get_username()


class ActionItemForm(KeepsUnchangedValues, forms.Form):
    # Which stored item the row is: it keeps its id (and the reminders about it) when saved.
    # The service ignores an id that is not one of this review's items.
    id = forms.IntegerField(
        widget=forms.HiddenInput, required=False, min_value=1, max_value=MAX_DB_INT
    )
    title = forms.CharField(max_length=300)
    owner_user = PersonChoiceField(
        get_user_model().objects.none(),
        label="Owner (a person)",
        required=False,
        help_text="They see it under “My action items” and get its reminders.",
    )
    owner_team = forms.ModelChoiceField(
        Group.objects.none(),
        label="Or owner (a team)",
        required=False,
        help_text="Every member sees it under “My action items” and gets its reminders.",
    )
    owner = forms.CharField(
        label="Owner as written",
        max_length=150,
        required=False,
        help_text="Free text, e.g. from an imported write-up; nobody is reminded of it.",
    )
    status = forms.ChoiceField(choices=ActionItem.Status.choices, initial="open")
    due = forms.DateField(required=False, widget=date_widget())
    tracker_url = forms.URLField(
        label="Tracker URL", max_length=500, required=False, assume_scheme="https"
    )
    kind = forms.ChoiceField(choices=ActionItem.Kind.choices, initial="component_patch")
    leverage_level = forms.ModelChoiceField(LeverageLevel.objects.all(), required=False)
    pattern = forms.ModelChoiceField(StructuralPattern.objects.all(), required=False)

    def __init__(self, *args, owner_users=None, owner_teams=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The choices depend on who edits (see `ReviewForms.offer_owners`).
        if owner_users is not None:
            self.fields["owner_user"].queryset = owner_users
        if owner_teams is not None:
            self.fields["owner_team"].queryset = owner_teams

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("owner_user") and data.get("owner_team"):
            raise forms.ValidationError(
                "Choose a person or a team as the owner, not both (the other owner can go in "
                "“Owner as written”)."
            )
        # When an item was done and by whom is kept by the service, which knows the stored
        # item by its id; the form does not show either.
        return data


class PatternLinkForm(KeepsUnchangedValues, forms.Form):
    pattern = forms.ModelChoiceField(StructuralPattern.objects.all())
    rationale = forms.CharField(
        help_text="Why this incident shows the pattern, in your words.",
        # Seams' suggestions show their evidence beside this field, never in it: the link
        # says what the author concluded, so it is refused without their reason.
        error_messages={
            "required": "Say why this incident shows the pattern: a pattern link needs your "
            "rationale (Seams' evidence is a hint, not a reason)."
        },
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[SECTION_LIMIT],
    )


class _NoDuplicatePatterns(forms.BaseFormSet):
    def clean(self):
        seen = set()
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            pattern = form.cleaned_data.get("pattern")
            if pattern in seen:
                raise forms.ValidationError(f"“{pattern}” is linked twice; keep one link.")
            seen.add(pattern)


# No blank rows: the editor adds rows in place from each formset's `empty_form` (see
# static/seams-formset.js), so a save never grows the form. A new review starts with one.
TimelineFormSet = formset_factory(TimelineEventForm, extra=0, can_delete=True)
FactorFormSet = formset_factory(FactorForm, extra=0, can_delete=True)
ActionItemFormSet = formset_factory(ActionItemForm, extra=0, can_delete=True)
PatternLinkFormSet = formset_factory(
    PatternLinkForm, formset=_NoDuplicatePatterns, extra=0, can_delete=True
)
STARTER_ROWS = 1


class SuggestedTimelineEventForm(TimelineEventForm):
    """A timeline row a review template suggests: its kind is chosen, the rest is empty."""

    def has_changed(self) -> bool:
        # Left without a time, a text or a reason, the row is no part of the review, whatever
        # kind it shows (also after rows were added or removed around it).
        names = ("occurred_at", "text", "why_reasonable")
        return any((self.data.get(self.add_prefix(name)) or "").strip() for name in names)


class SuggestedTimelineFormSet(TimelineFormSet):
    """A new review's timeline, started from its template's rows. They are suggestions, not
    stored rows: each counts as an extra row, so one left empty is neither checked nor saved."""

    form = SuggestedTimelineEventForm

    def initial_form_count(self) -> int:
        return 0


class ReviewForms:
    """The incident form and its four formsets, bound or initial, handled as one."""

    def __init__(
        self,
        data=None,
        *,
        instance: Incident | None = None,
        template: ReviewTemplate | None = None,
    ) -> None:
        instance = instance or Incident()
        # A new review is written from the template its author chose (its timeline rows and
        # prompts); a stored one shows the prompts of the template it was written from.
        self.creating = not instance.pk
        self.template = template if self.creating else instance.template
        suggested = suggested_timeline(self.template) if self.creating else []
        # Bound forms get the stored rows as initial too, so each row can tell what it showed
        # and keep the stored value of what was not changed. Rows line up with what the
        # editor was shown: a save over a newer version is refused (`expected_version`).
        initial = _initial_parts(instance) if instance.pk else {}
        self.incident = IncidentForm(data, instance=instance)
        self.timeline = (SuggestedTimelineFormSet if suggested else TimelineFormSet)(
            data, prefix="timeline", initial=initial.get("timeline", suggested or None)
        )
        self.factors = FactorFormSet(data, prefix="factors", initial=initial.get("factors"))
        self.actions = ActionItemFormSet(data, prefix="actions", initial=initial.get("actions"))
        self.patterns = PatternLinkFormSet(data, prefix="patterns", initial=initial.get("patterns"))
        if data is None and not instance.pk:
            # A blank review shows one row of each part to start from (also without scripts).
            for formset in self.formsets:
                formset.extra = STARTER_ROWS
            if suggested:
                self.timeline.extra = len(suggested)
        self.prompts = show_prompts(self.incident, self.template)

    def offer_owners(self, user) -> None:
        """Offer as action-item owners the active people and the teams `user` may name
        (`permissions.assignable_teams`), and keep whoever owns an item of this review now,
        so an untouched save keeps every owner. Call before the rows are used."""
        from django.db.models import Q

        from .permissions import assignable_teams

        instance = self.incident.instance
        items = list(instance.action_items.all()) if instance.pk else []
        kept_users = {a.owner_user_id for a in items} - {None}
        kept_teams = {a.owner_team_id for a in items} - {None}
        people = get_user_model().objects.filter(Q(is_active=True) | Q(pk__in=kept_users))
        teams = Group.objects.filter(
            Q(pk__in=assignable_teams(user).values("pk")) | Q(pk__in=kept_teams)
        )
        self.actions.form_kwargs = {
            **self.actions.form_kwargs,
            "owner_users": people.order_by(get_user_model().USERNAME_FIELD),
            "owner_teams": teams.order_by("name"),
        }

    @property
    def formsets(self):
        return [self.timeline, self.factors, self.actions, self.patterns]

    def is_valid(self) -> bool:
        results = [self.incident.is_valid()] + [fs.is_valid() for fs in self.formsets]
        return all(results)

    def expected_version(self) -> int | None:
        return self.incident.cleaned_data.get("version")

    def review_content(self) -> ReviewContent:
        """The validated forms as the services' input."""

        def rows(formset):
            return [
                f.cleaned_data
                for f in formset.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]

        data = self.incident.cleaned_data
        fields = {name: data[name] for name in IncidentForm.Meta.fields if name not in {"shapes"}}
        if self.creating:
            fields["template"] = self.template
        return ReviewContent(
            fields=fields,
            shapes=list(data["shapes"]),
            components=self.incident.component_names(),
            timeline=[
                TimelineEntry(
                    occurred_at=r["occurred_at"],
                    kind=r["kind"],
                    text=r["text"],
                    why_reasonable=r["why_reasonable"],
                )
                for r in rows(self.timeline)
            ],
            factors=[r["text"] for r in rows(self.factors)],
            actions=[
                ActionEntry(**{k: v for k, v in r.items() if k != "DELETE"})
                for r in rows(self.actions)
            ],
            patterns=[
                PatternClaim(pattern=r["pattern"], rationale=r["rationale"])
                for r in rows(self.patterns)
            ],
        )


def _initial_parts(incident: Incident) -> dict[str, list[dict]]:
    return {
        "timeline": [
            {
                "occurred_at": e.occurred_at,
                "kind": e.kind,
                "text": e.text,
                "why_reasonable": e.why_reasonable,
            }
            for e in incident.timeline.all()
        ],
        "factors": [{"text": f.text} for f in incident.contributing_factors.all()],
        "actions": [
            {
                "title": a.title,
                "owner": a.owner,
                "status": a.status,
                "due": a.due,
                "tracker_url": a.tracker_url,
                "kind": a.kind,
                "leverage_level": a.leverage_level_id,
                "pattern": a.pattern_id,
                "id": a.pk,
                "owner_user": a.owner_user_id,
                "owner_team": a.owner_team_id,
            }
            for a in incident.action_items.all()
        ],
        "patterns": [
            {"pattern": link.pattern_id, "rationale": link.rationale}
            for link in incident.pattern_links.all()
        ],
    }
