"""Filter fields for query parameters whose schema is an enum."""

from __future__ import annotations

import django_filters
from django import forms
from django_filters import fields as filter_fields


class RefusesEmpty:
    """A filter field for a parameter whose schema is an enum: present but empty (`?shape=`)
    is no value of it, so it is refused rather than ignored as django-filter would."""

    def clean(self, value):
        if value == "":
            raise forms.ValidationError("Give one of the listed values, or leave it out.")
        return super().clean(value)


class EnumChoiceField(RefusesEmpty, filter_fields.ChoiceField):
    pass


class EnumModelChoiceField(RefusesEmpty, filter_fields.ModelChoiceField):
    pass


class EnumChoiceFilter(django_filters.ChoiceFilter):
    field_class = EnumChoiceField
