from django.contrib import admin

from .models import EmergentShape, LeverageLevel, PatternRelation, StructuralPattern


class RelationInline(admin.TabularInline):
    model = PatternRelation
    fk_name = "source"
    extra = 0
    autocomplete_fields = ["target"]


@admin.register(StructuralPattern)
class StructuralPatternAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "shipped"]
    list_filter = ["shipped", "typical_shapes"]
    search_fields = ["name", "slug", "summary"]
    filter_horizontal = ["typical_shapes"]
    readonly_fields = ["shipped", "shipped_digest"]
    inlines = [RelationInline]


@admin.register(EmergentShape)
class EmergentShapeAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]


@admin.register(LeverageLevel)
class LeverageLevelAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "depth"]
