"""Filters for the incident list: by shape, pattern, component, status, severity, time, text."""

import django_filters
from django import forms
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django_filters.fields import IsoDateTimeField

from incidents.bounds import InvalidInput, bounded_datetime
from incidents.models import Component, Incident
from incidents.permissions import visible_components
from incidents.search import text_search
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


class CatalogueSlugFilter(django_filters.ModelChoiceFilter):
    """A catalogue slug (shape or pattern), listed as an enum in the OpenAPI schema.

    The catalogue is known when the schema is built, so the schema states the valid slugs
    and an unknown one is a schema-invalid request, answered 400 (a typo should not look
    like "no incidents").
    """

    @property
    def _spectacular_annotation(self) -> dict:
        # Read by drf-spectacular when it builds the schema, from the database of the moment.
        try:
            slugs = sorted(self.queryset.values_list("slug", flat=True))
        except DatabaseError:  # a schema built without a database (`manage.py spectacular`)
            return {"field": {"type": "string"}}
        return {"field": {"type": "string", "enum": slugs}}


class IncidentFilter(django_filters.FilterSet):
    """Unknown slugs answer 400 (a typo should not look like "no incidents")."""

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
    component = django_filters.ModelChoiceFilter(
        field_name="components",
        to_field_name="slug",
        # Narrowed to the reader's visible components in `form`, per request.
        queryset=Component.objects.all(),
        help_text="Component slug, e.g. `waf-managed-rules`. A component no review you may "
        "see uses is unknown (400), like one that does not exist.",
    )
    status = django_filters.ChoiceFilter(choices=Incident.Status.choices)
    severity = django_filters.ChoiceFilter(choices=Incident.Severity.choices)
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

    @property
    def form(self):
        # The form class is shared by every request (below), so the reader's choices are set
        # on each form: a slug only restricted reviews use must answer exactly like an
        # unknown one, or the 400/200 difference tells an outsider the component exists.
        if not hasattr(self, "_form"):
            form = super().form
            user = getattr(self.request, "user", None) or AnonymousUser()
            form.fields["component"].queryset = visible_components(user)
        return self._form

    def get_form_class(self):
        # django-filter builds a new form class, with a new field per filter, for every
        # request. The class depends only on the declared filters, and each form deep-copies
        # its fields anyway, so one class serves every request.
        cls = type(self)
        if "_seams_form_class" not in cls.__dict__:
            cls._seams_form_class = super().get_form_class()
        return cls._seams_form_class
