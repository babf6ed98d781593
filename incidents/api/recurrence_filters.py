"""Filters and sort of recurring structures, for the recurrences page and the API alike."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django import forms
from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from incidents.models import Incident, RecurrenceMembership, RecurringStructure
from incidents.permissions import visible_components
from incidents.selectors import recurring_structures_for
from taxonomy.models import EmergentShape, StructuralPattern

from .filters import CatalogueSlugFilter, EnumChoiceFilter


class StrictBooleanField(forms.Field):
    """`true` or `false`, nothing else: django-filter's boolean field quietly ignored any
    other text (`?despite_remediation=maybe` listed everything)."""

    def clean(self, value):
        if value is None:
            return None
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError("Use true or false.")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


# How far back "seen in the window" looks; "all" is all time. Undated members are left out
# of every window but "all" (no date means no date).
RECURRENCE_WINDOWS = {"90d": 90, "1y": 365, "2y": 730, "all": None}
WINDOW_LABELS = {
    "90d": "Last 90 days",
    "1y": "Last 12 months",
    "2y": "Last 2 years",
    "all": "All time",
}
# Sort keys of the recurrences list: cost and recurrences rank (those that recurred
# despite remediation first); last seen is the newest first.
RECURRENCE_SORTS = {
    "cost": "Cost (severity-weighted incident-hours)",
    "recurrences": "Recurrences",
    "last": "Last seen",
}


class RecurrenceFilter(django_filters.FilterSet):
    """Filters and sort of recurring structures, for the page and the API alike.

    Every filter looks only at the members the reader may see: a structure is not found by
    a component, severity or date that only a restricted member of it has.
    """

    window = EnumChoiceFilter(
        choices=list(WINDOW_LABELS.items()),
        method="filter_window",
        help_text="Only structures with a member that began in this window (`all`: all time, "
        "undated members included).",
    )
    shape = CatalogueSlugFilter(
        queryset=EmergentShape.objects.all(),
        to_field_name="slug",
        method="filter_shape",
        help_text="Only structures with a member of this emergent shape, e.g. `cascade`.",
    )
    pattern = CatalogueSlugFilter(
        queryset=StructuralPattern.objects.all(),
        to_field_name="slug",
        method="filter_pattern",
        help_text="Only structures made of this pattern (alone or in a pair).",
    )
    component = django_filters.CharFilter(
        method="filter_component",
        help_text="Component slug: only structures expressed through it. A slug that names no "
        "component you may see gives an empty list.",
    )
    severity = EnumChoiceFilter(
        choices=Incident.Severity.choices,
        method="filter_severity",
        help_text="Only structures with a member of this severity.",
    )
    despite_remediation = StrictBooleanFilter(
        method="filter_despite",
        help_text="Only those that recurred after the earlier incident's fixes were done "
        "(`true`), or only the others (`false`).",
    )
    sort = EnumChoiceFilter(
        choices=list(RECURRENCE_SORTS.items()),
        method="sort_by",
        help_text="`cost` (default) or `recurrences`, those that recurred despite remediation "
        "first; `last`: last seen, newest first.",
    )

    class Meta:
        model = RecurringStructure
        fields = [
            "window",
            "shape",
            "pattern",
            "component",
            "severity",
            "despite_remediation",
            "sort",
        ]

    def _reader(self):
        return getattr(self.request, "user", None) or AnonymousUser()

    def _with_member(self, queryset, **conditions):
        """Structures with a member the reader may see that meets `conditions`."""
        members = RecurrenceMembership.objects.filter(
            structure_id=OuterRef("pk"),
            incident__in=Incident.objects.visible_to(self._reader()),
            **conditions,
        )
        return queryset.filter(Exists(members))

    def filter_window(self, queryset, name, value):
        days = RECURRENCE_WINDOWS.get(value)
        if days is None:
            return queryset
        # The membership's own copy of when the incident began: the (structure, time) index.
        return self._with_member(queryset, occurred_at__gte=timezone.now() - timedelta(days=days))

    def filter_shape(self, queryset, name, value):
        return self._with_member(queryset, incident__shapes=value)

    def filter_pattern(self, queryset, name, value):
        made_of = RecurringStructure.patterns.through.objects.filter(
            recurringstructure_id=OuterRef("pk"), structuralpattern=value
        )
        return queryset.filter(Q(pattern=value) | Exists(made_of))

    def filter_component(self, queryset, name, value):
        # As on the incident list: only components the reader may see match.
        return self._with_member(
            queryset, incident__components__in=visible_components(self._reader()).filter(slug=value)
        )

    def filter_severity(self, queryset, name, value):
        return self._with_member(queryset, incident__severity=value)

    # "Despite remediation" and the order are the reader's figures, computed by
    # `recurring_structures_for` after the filters above: `structures()` applies them.
    def filter_despite(self, queryset, name, value):
        return queryset

    def sort_by(self, queryset, name, value):
        return queryset

    def structures(self) -> list[RecurringStructure]:
        """The filtered structures that recur for the reader, ranked (call after
        `is_valid()`), each with `seen`."""
        data = self.form.cleaned_data
        return recurring_structures_for(
            self._reader(),
            self.qs,
            sort=data.get("sort") or "cost",
            despite_remediation=data.get("despite_remediation"),
        )

    def get_form_class(self):
        # One form class for every request, as IncidentFilter does.
        cls = type(self)
        if "_seams_form_class" not in cls.__dict__:
            cls._seams_form_class = super().get_form_class()
        return cls._seams_form_class
