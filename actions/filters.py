"""Filters of action-item lists, for the web pages and the API alike."""

from __future__ import annotations

import django_filters
from django import forms
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field

from common.api.filters import EnumChoiceFilter, RefusesEmpty
from incidents.api.recurrence_filters import StrictBooleanFilter
from incidents.bounds import MAX_DB_INT
from incidents.models import ActionItem
from taxonomy.api.filters import CatalogueSlugFilter
from taxonomy.models import LeverageLevel

from . import selectors


class StructureIdField(RefusesEmpty, forms.IntegerField):
    """A recurring structure's id: a whole number from 1 that every database can compare."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_DB_INT, **kwargs)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_DB_INT})
class StructureFilter(django_filters.Filter):
    field_class = StructureIdField


class ActionItemFilter(django_filters.FilterSet):
    """Narrow a list of action items (already only those of reviews the reader may see).

    A structure id that names no structure, or one none of the reader's items belong to,
    gives an empty list: structures are derived data, and the answer must not tell which
    ones exist only among restricted reviews."""

    mine = StrictBooleanFilter(
        method="filter_mine",
        help_text="`true`: only items you own (yours, or your team's); `false`: only the others.",
    )
    overdue = StrictBooleanFilter(
        method="filter_overdue",
        help_text="`true`: only open or in-progress items past their due date; `false`: the "
        "others.",
    )
    status = EnumChoiceFilter(choices=ActionItem.Status.choices)
    structure = StructureFilter(
        method="filter_structure",
        help_text="Only items of reviews in this recurring structure (its id, as in "
        "/api/v1/recurrences/).",
    )
    leverage = CatalogueSlugFilter(
        field_name="leverage_level",
        to_field_name="slug",
        queryset=LeverageLevel.objects.all(),
        help_text="Only items acting at this leverage level (its slug, as in "
        "/api/v1/leverage-levels/).",
    )

    class Meta:
        model = ActionItem
        fields = ["mine", "overdue", "status", "structure", "leverage"]

    def _reader(self):
        return getattr(self.request, "user", None) or AnonymousUser()

    def filter_mine(self, queryset, name, value):
        mine = selectors.owned_by(queryset, self._reader())
        return mine if value else queryset.exclude(pk__in=mine.values("pk"))

    def filter_overdue(self, queryset, name, value):
        late = selectors.overdue(queryset, timezone.localdate())
        return late if value else queryset.exclude(pk__in=late.values("pk"))

    def filter_structure(self, queryset, name, value):
        return selectors.in_structure(queryset, value)

    def get_form_class(self):
        # One form class for every request, as the incident and recurrence filters do.
        cls = type(self)
        if "_seams_form_class" not in cls.__dict__:
            cls._seams_form_class = super().get_form_class()
        return cls._seams_form_class
