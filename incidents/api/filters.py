"""Filters for the incident list: by shape, pattern, component, status, severity, time, text."""

import django_filters
from django import forms
from django.contrib.auth.models import AnonymousUser
from django_filters.fields import IsoDateTimeField

from common.api.filters import EnumChoiceFilter
from incidents.bounds import InvalidInput, bounded_datetime
from incidents.models import Incident
from incidents.permissions import visible_components
from similarity.search import text_search
from taxonomy.api.filters import CatalogueSlugFilter
from taxonomy.models import EmergentShape, StructuralPattern


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time every database can compare: present means not empty, and
    within years 1 to 9999 once in UTC (9999-12-31T23:59:59-23:59 overflowed before)."""

    def clean(self, value):
        if value == "":
            raise forms.ValidationError(
                "Give an ISO 8601 date-time such as 2025-07-02T13:42:00Z, or leave it out."
            )
        parsed = super().clean(value)
        if parsed is not None:
            try:
                bounded_datetime(parsed, name="date")
            except InvalidInput as exc:
                raise forms.ValidationError(str(exc)) from exc
        return parsed


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class IncidentFilter(django_filters.FilterSet):
    """Unknown catalogue slugs (shape, pattern) answer 400: the schema lists the valid ones.
    A component that matches nothing answers an empty list."""

    shape = CatalogueSlugFilter(
        field_name="shapes",
        to_field_name="slug",
        queryset=EmergentShape.objects.all(),
        help_text="Emergent shape slug, e.g. `cascade`.",
    )
    pattern = CatalogueSlugFilter(
        field_name="pattern_links__pattern",
        to_field_name="slug",
        queryset=StructuralPattern.objects.all(),
        help_text="Structural pattern slug, e.g. `fast-global-propagation`.",
    )
    component = django_filters.CharFilter(
        method="filter_component",
        help_text="Component slug, e.g. `waf-managed-rules`. A slug that names no component "
        "you may see gives an empty list.",
    )
    status = EnumChoiceFilter(choices=Incident.Status.choices)
    severity = EnumChoiceFilter(choices=Incident.Severity.choices)
    since = BoundedIsoDateTimeFilter(
        field_name="started_at", lookup_expr="gte", help_text="Started at or after (ISO 8601)."
    )
    until = BoundedIsoDateTimeFilter(
        field_name="started_at", lookup_expr="lt", help_text="Started before (ISO 8601)."
    )
    q = django_filters.CharFilter(
        method="filter_text",
        help_text="Full-text search in title and summary (ranked; all words must match).",
    )

    class Meta:
        model = Incident
        fields = ["shape", "pattern", "component", "status", "severity", "since", "until", "q"]

    def filter_text(self, queryset, name, value):
        return text_search(queryset, value[:500])

    def filter_component(self, queryset, name, value):
        # Components are the reviews' data, not a catalogue: the schema cannot list them, so
        # a slug that matches none is a valid question whose answer is "no incidents". Only
        # the reader's visible components match, so a component only restricted reviews use
        # answers exactly like an unknown one and tells an outsider nothing.
        user = getattr(self.request, "user", None) or AnonymousUser()
        return queryset.filter(components__in=visible_components(user).filter(slug=value))

    def get_form_class(self):
        # django-filter builds a new form class, with a new field per filter, for every
        # request. The class depends only on the declared filters, and each form deep-copies
        # its fields anyway, so one class serves every request.
        cls = type(self)
        if "_seams_form_class" not in cls.__dict__:
            cls._seams_form_class = super().get_form_class()
        return cls._seams_form_class
