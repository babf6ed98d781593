"""A query parameter that names a catalogue entry by slug."""

from __future__ import annotations

import django_filters

from common.api.filters import EnumModelChoiceField

from .serializers import slug_enum_schema


class CatalogueSlugFilter(django_filters.ModelChoiceFilter):
    """A catalogue slug (shape or pattern), listed as an enum in the OpenAPI schema.

    The catalogue is known when the schema is built, so the schema states the valid slugs
    and an unknown one is a schema-invalid request, answered 400 (a typo should not look
    like "no incidents").
    """

    @property
    def _spectacular_annotation(self) -> dict:
        # Read by drf-spectacular when it builds the schema, from the database of the moment.
        return {"field": slug_enum_schema(self.queryset)}

    field_class = EnumModelChoiceField
