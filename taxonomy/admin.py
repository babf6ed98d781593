"""Admin for the catalogue: organisations edit shipped entries and add their own here.

Entries are edited section by section through the forms in `admin_forms`; nobody has to write
JSON. Shipped entries edited here are reported as "edited locally", which is also how
`sync_catalogue` decides not to overwrite them silently.
"""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from . import catalogue
from .admin_forms import (
    EmergentShapeAdminForm,
    LeverageLevelAdminForm,
    PatternRelationAdminForm,
    StructuralPatternAdminForm,
)
from .models import EmergentShape, LeverageLevel, PatternRelation, StructuralPattern


class RelationInline(admin.TabularInline):
    """The pattern's outgoing relations (confused with, leads to) edited on its page."""

    model = PatternRelation
    form = PatternRelationAdminForm
    fk_name = "source"
    extra = 0
    autocomplete_fields = ["target"]


@admin.register(StructuralPattern)
class StructuralPatternAdmin(admin.ModelAdmin):
    """Structural patterns, shipped and local, with every entry section as its own field."""

    form = StructuralPatternAdminForm
    list_display = ["name", "slug", "shipped", "local_changes"]
    list_filter = ["shipped", "typical_shapes"]
    search_fields = ["name", "slug", "summary"]
    filter_horizontal = ["typical_shapes"]
    readonly_fields = ["shipped", "shipped_digest", "local_changes"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [RelationInline]
    fieldsets = [
        (
            "Identity",
            {"fields": ["name", "slug", "aliases", "shipped", "shipped_digest", "local_changes"]},
        ),
        (
            "Definition",
            {
                "fields": [
                    "summary",
                    "definition",
                    "typical_shapes",
                    "why_it_looks_healthy",
                    "mistaken_for",
                    "first_noticed_by",
                    "blast_radius",
                    "contributing_conditions",
                ]
            },
        ),
        (
            "How it unfolds",
            {
                "fields": [
                    "unfolds_starts",
                    "unfolds_feels_reasonable_because",
                    "unfolds_escalates",
                    "unfolds_ends",
                ]
            },
        ),
        (
            "Warning signs",
            {"fields": ["warning_signs_early", "warning_signs_mid", "warning_signs_late"]},
        ),
        (
            "Response",
            {
                "fields": [
                    "response_first_move",
                    "response_hard_tradeoff",
                    "response_recovery_trap",
                    "response_immediate_actions",
                    "response_structural_fixes",
                    "response_what_not_to_do",
                ]
            },
        ),
        (
            "Notes and phrases",
            {
                "fields": [
                    "notes_best_moment",
                    "notes_counter_move",
                    "notes_false_positive",
                    "phrases",
                ]
            },
        ),
        ("Evidence and matching", {"fields": ["evidence", "match_terms"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[StructuralPattern]:
        """Prefetch shapes: the "local changes" column compares them for every row."""
        return super().get_queryset(request).prefetch_related("typical_shapes")

    def get_readonly_fields(
        self, request: HttpRequest, obj: StructuralPattern | None = None
    ) -> list[str]:
        """A shipped pattern keeps its slug: upgrades find it by slug, and a renamed one would
        be added again as new on the next migrate."""
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.shipped:
            fields.append("slug")
        return fields

    def get_prepopulated_fields(
        self, request: HttpRequest, obj: StructuralPattern | None = None
    ) -> dict[str, Any]:
        """No slug from the name where the slug is read-only (the admin would fail on it)."""
        if obj is not None and obj.shipped:
            return {}
        return super().get_prepopulated_fields(request, obj)

    @admin.display(description="Local changes")
    def local_changes(self, obj: StructuralPattern) -> str:
        """Whether a shipped entry was edited here since Seams last shipped it."""
        if obj.pk is None or not obj.shipped:
            return "local pattern"
        return "edited locally" if catalogue.is_locally_edited(obj) else "as shipped"


@admin.register(EmergentShape)
class EmergentShapeAdmin(admin.ModelAdmin):
    """The four emergent shapes, with their entry sections as separate fields."""

    form = EmergentShapeAdminForm
    list_display = ["name", "slug", "position"]
    fieldsets = [
        ("Identity", {"fields": ["name", "slug", "position"]}),
        ("Definition", {"fields": ["summary", "definition"]}),
        ("Recognising it", {"fields": ["recognise", "distinguishes"]}),
        ("Canonical incident", {"fields": ["canonical_incident", "canonical_incident_key"]}),
        ("Composition", {"fields": ["composes_with", "typical_patterns"]}),
    ]


@admin.register(LeverageLevel)
class LeverageLevelAdmin(admin.ModelAdmin):
    """Meadows' twelve leverage levels."""

    form = LeverageLevelAdminForm
    list_display = ["number", "name", "depth"]
