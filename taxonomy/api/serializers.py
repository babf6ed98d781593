"""The catalogue as structured JSON: every section of an entry, lists as lists."""

from __future__ import annotations

from django.db import DatabaseError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from taxonomy.models import EmergentShape, LeverageLevel, PatternRelation, StructuralPattern


def slug_enum_schema(catalogue: QuerySet, field_name: str = "") -> dict:
    """The OpenAPI schema of a catalogue slug: a string, one of the slugs stored now.

    Read when the schema is built (from the database of the moment), so a pattern added to
    the catalogue appears in the next schema; a schema built without a database
    (`manage.py spectacular` on a fresh checkout) says only "string". In request bodies
    drf-spectacular names an enum after the field; `field_name` keeps one name per field
    (`pattern` and a claim's `slug` list the same patterns under two names, by design).
    """
    try:
        slugs = sorted(catalogue.values_list("slug", flat=True))
    except DatabaseError:
        return {"type": "string"}
    if not slugs:
        return {"type": "string"}
    schema = {"type": "string", "enum": slugs}
    if field_name:
        schema["x-spec-enum-id"] = f"{catalogue.model._meta.label}.{field_name}"
    return schema


class CatalogueSlugs:
    """The slugs of a catalogue table as an `OpenApiParameter(enum=...)`, read when the
    schema is built rather than when the view module is imported."""

    def __init__(self, catalogue: QuerySet) -> None:
        self.catalogue = catalogue

    def __bool__(self) -> bool:
        return "enum" in slug_enum_schema(self.catalogue)

    def __iter__(self):
        return iter(slug_enum_schema(self.catalogue).get("enum", []))


def _list(source: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(), source=source, read_only=True, default=list
    )


def _text(source: str) -> serializers.CharField:
    return serializers.CharField(source=source, read_only=True, default="")


class ShapeSerializer(serializers.ModelSerializer):
    """An emergent shape with how to recognise it and how it composes with the others."""

    recognise = _list("entry.recognise")
    distinguishes = _text("entry.distinguishes")
    canonical_incident = _text("entry.canonical_incident")
    canonical_incident_key = _text("entry.canonical_incident_key")
    composes_with = _text("entry.composes_with")
    typical_patterns = _list("entry.typical_patterns")

    class Meta:
        model = EmergentShape
        fields = [
            "slug",
            "name",
            "summary",
            "definition",
            "recognise",
            "distinguishes",
            "canonical_incident",
            "canonical_incident_key",
            "composes_with",
            "typical_patterns",
        ]


class UnfoldsSerializer(serializers.Serializer):
    starts = serializers.CharField(default="")
    feels_reasonable_because = serializers.CharField(default="")
    escalates = serializers.CharField(default="")
    ends = serializers.CharField(default="")


class WarningSignsSerializer(serializers.Serializer):
    early = serializers.ListField(child=serializers.CharField(), default=list)
    mid = serializers.ListField(child=serializers.CharField(), default=list)
    late = serializers.ListField(child=serializers.CharField(), default=list)


class ResponseSerializer(serializers.Serializer):
    first_move = serializers.CharField(default="")
    hard_tradeoff = serializers.CharField(default="")
    recovery_trap = serializers.CharField(default="")
    immediate_actions = serializers.ListField(child=serializers.CharField(), default=list)
    structural_fixes = serializers.ListField(child=serializers.CharField(), default=list)
    what_not_to_do = serializers.ListField(child=serializers.CharField(), default=list)


class NotesSerializer(serializers.Serializer):
    best_moment = serializers.CharField(default="")
    counter_move = serializers.CharField(default="")
    false_positive = serializers.CharField(default="")


class PhraseSerializer(serializers.Serializer):
    text = serializers.CharField()
    said_by = serializers.CharField(default="")


class EvidenceSerializer(serializers.Serializer):
    incident = serializers.CharField(default="", help_text="Demo incident key, or empty.")
    note = serializers.CharField()


class RelationSerializer(serializers.ModelSerializer):
    slug = serializers.CharField(source="target.slug")
    name = serializers.CharField(source="target.name")

    class Meta:
        model = PatternRelation
        fields = ["slug", "name", "note"]


class PatternSerializer(serializers.ModelSerializer):
    """A structural pattern with every section of its entry."""

    url = serializers.HyperlinkedIdentityField(view_name="api:pattern-detail", lookup_field="slug")
    typical_shapes = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    why_it_looks_healthy = _list("entry.why_it_looks_healthy")
    mistaken_for = _list("entry.mistaken_for")
    first_noticed_by = _list("entry.first_noticed_by")
    blast_radius = _list("entry.blast_radius")
    contributing_conditions = _list("entry.contributing_conditions")
    match_terms = _list("entry.match_terms")
    unfolds = UnfoldsSerializer(source="entry.unfolds", read_only=True, default=dict)
    warning_signs = WarningSignsSerializer(
        source="entry.warning_signs", read_only=True, default=dict
    )
    response = ResponseSerializer(source="entry.response", read_only=True, default=dict)
    notes_from_practice = NotesSerializer(
        source="entry.notes_from_practice", read_only=True, default=dict
    )
    phrases = PhraseSerializer(source="entry.phrases", many=True, read_only=True, default=list)
    evidence = EvidenceSerializer(source="entry.evidence", many=True, read_only=True, default=list)
    confused_with = serializers.SerializerMethodField()
    leads_to = serializers.SerializerMethodField()

    class Meta:
        model = StructuralPattern
        fields = [
            "slug",
            "url",
            "name",
            "aliases",
            "summary",
            "definition",
            "typical_shapes",
            "why_it_looks_healthy",
            "mistaken_for",
            "first_noticed_by",
            "blast_radius",
            "unfolds",
            "warning_signs",
            "contributing_conditions",
            "response",
            "notes_from_practice",
            "phrases",
            "evidence",
            "match_terms",
            "confused_with",
            "leads_to",
            "shipped",
        ]

    def _related(self, obj: StructuralPattern, kind: str) -> list[dict]:
        # relations_out is prefetched by the view; filtering in Python keeps it one query.
        rows = [r for r in obj.relations_out.all() if r.kind == kind]
        return RelationSerializer(rows, many=True).data

    @extend_schema_field(RelationSerializer(many=True))
    def get_confused_with(self, obj: StructuralPattern) -> list[dict]:
        return self._related(obj, PatternRelation.Kind.CONFUSED_WITH)

    @extend_schema_field(RelationSerializer(many=True))
    def get_leads_to(self, obj: StructuralPattern) -> list[dict]:
        return self._related(obj, PatternRelation.Kind.LEADS_TO)


class LeverageLevelSerializer(serializers.ModelSerializer):
    """One of Meadows' twelve leverage levels."""

    class Meta:
        model = LeverageLevel
        fields = ["number", "slug", "name", "description", "in_operations", "depth"]
