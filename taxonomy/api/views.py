"""Catalogue endpoints: patterns, shapes, leverage levels (read-only)."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema_view
from rest_framework import viewsets

from common.api.conditional import ConditionalRetrieveMixin
from common.api.schema import read_only_schema
from taxonomy.catalogue import digest, stored_content
from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern
from taxonomy.selectors import patterns_with_shapes

from .filters import CatalogueSlugFilter
from .serializers import LeverageLevelSerializer, PatternSerializer, ShapeSerializer


class PatternFilter(django_filters.FilterSet):
    """Narrow the catalogue to patterns that typically produce a shape."""

    shape = CatalogueSlugFilter(
        field_name="typical_shapes",
        to_field_name="slug",
        queryset=EmergentShape.objects.all(),
        help_text="Emergent shape slug, e.g. `cascade`.",
    )

    class Meta:
        model = StructuralPattern
        fields = ["shape"]


@extend_schema_view(**read_only_schema("Structural patterns", PatternSerializer))
class PatternViewSet(ConditionalRetrieveMixin, viewsets.ReadOnlyModelViewSet):
    """Structural patterns, by slug, with every section of their entries."""

    def etag_for(self, obj: StructuralPattern) -> str:
        relations = [(r.kind, r.target_id, r.note) for r in obj.relations_out.all()]
        return digest({"content": stored_content(obj), "relations": relations})[:32]

    serializer_class = PatternSerializer
    lookup_field = "slug"
    filterset_class = PatternFilter

    def get_queryset(self):
        return patterns_with_shapes()


@extend_schema_view(**read_only_schema("Emergent shapes", ShapeSerializer))
class ShapeViewSet(viewsets.ReadOnlyModelViewSet):
    """The four emergent shapes, by slug."""

    serializer_class = ShapeSerializer
    lookup_field = "slug"
    queryset = EmergentShape.objects.order_by("position", "slug")
    pagination_class = None


@extend_schema_view(**read_only_schema("Leverage levels", LeverageLevelSerializer))
class LeverageLevelViewSet(viewsets.ReadOnlyModelViewSet):
    """Meadows' twelve places to intervene, shallowest (12) first."""

    serializer_class = LeverageLevelSerializer
    lookup_field = "slug"
    queryset = LeverageLevel.objects.order_by("-number")
    pagination_class = None
