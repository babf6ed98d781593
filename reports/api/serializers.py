"""Report requests and snapshots through the API. The snapshot's shape is documented here
field by field, so the OpenAPI schema describes the JSON export exactly."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from incidents.models import Incident
from incidents.permissions import visible_components
from reports.analysis import ReportParams
from reports.models import Report
from taxonomy.api.serializers import slug_enum_schema
from taxonomy.models import EmergentShape, StructuralPattern

MAX_WINDOW = timedelta(days=5 * 366)


class CatalogueSlugText(serializers.SlugField):
    """A catalogue slug kept as text (a report stores its parameters as asked), stated in the
    schema as an enum of the catalogue's slugs; `validate` checks it against the catalogue."""

    def __init__(self, *, catalogue, **kwargs):
        self.catalogue = catalogue
        super().__init__(**kwargs)

    @property
    def _spectacular_annotation(self) -> dict:
        return {"field": slug_enum_schema(self.catalogue, self.field_name)}


class ReportRequestSerializer(serializers.Serializer):
    """What a report should cover: a window, or all time (leave out both ends)."""

    since = serializers.DateTimeField(required=False, allow_null=True)
    until = serializers.DateTimeField(required=False, allow_null=True)
    component = serializers.SlugField(required=False, allow_null=True, help_text="Component slug.")
    include_dependents = serializers.BooleanField(
        default=True, help_text="Also count incidents in components that depend on it."
    )
    severity = serializers.ChoiceField(
        choices=Incident.Severity.choices, required=False, allow_null=True
    )
    shape = CatalogueSlugText(
        catalogue=EmergentShape.objects.all(), required=False, allow_null=True
    )
    pattern = CatalogueSlugText(
        catalogue=StructuralPattern.objects.all(), required=False, allow_null=True
    )

    def validate(self, data):
        since, until = data.get("since"), data.get("until")
        if (since is None) != (until is None):
            missing = "until" if until is None else "since"
            raise serializers.ValidationError(
                {missing: ["Give both ends of the window, or neither for all time."]}
            )
        if since is not None and until <= since:
            raise serializers.ValidationError({"until": ["Must be after `since`."]})
        if since is not None and until - since > MAX_WINDOW:
            raise serializers.ValidationError(
                {"until": ["A window may span at most five years; leave out both ends for all "
                           "time."]}
            )  # fmt: skip
        request = self.context.get("request")
        # A component only restricted reviews use is unknown to whoever may not see them:
        # accepting it would tell them it exists.
        components = visible_components(getattr(request, "user", None) or AnonymousUser())
        for name, known in (
            ("component", components),
            ("shape", EmergentShape.objects.all()),
            ("pattern", StructuralPattern.objects.all()),
        ):
            if data.get(name) and not known.filter(slug=data[name]).exists():
                raise serializers.ValidationError({name: [f"Unknown {name} {data[name]!r}."]})
        return data

    def to_params(self) -> ReportParams:
        return ReportParams(**self.validated_data)


class HeadlineSerializer(serializers.Serializer):
    incidents = serializers.IntegerField()
    weighted_hours = serializers.FloatField(
        help_text="Severity-weighted incident-hours (incidents.analysis.cost): hours capped per "
        "incident, times the severity's weight; incidents of unknown severity or end left out."
    )
    weighted_hours_unknown = serializers.IntegerField(
        help_text="Incidents left out of `weighted_hours`."
    )
    users_affected = serializers.IntegerField(
        allow_null=True, help_text="Sum of the recorded numbers; null when none is recorded."
    )
    users_affected_unknown = serializers.IntegerField(
        help_text="Incidents with no recorded number of users affected."
    )
    structures_recurred = serializers.IntegerField()
    in_recurring_structure = serializers.IntegerField()
    share_in_recurring_structure = serializers.FloatField()
    date_unknown = serializers.IntegerField(
        required=False,
        help_text="Incidents the filters select that have no date (this window only).",
    )


class ChangeSerializer(serializers.Serializer):
    incidents = serializers.FloatField(allow_null=True)
    weighted_hours = serializers.FloatField(allow_null=True)
    weighted_hours_unknown = serializers.FloatField(allow_null=True)
    users_affected = serializers.FloatField(allow_null=True)
    users_affected_unknown = serializers.FloatField(allow_null=True)
    structures_recurred = serializers.FloatField(allow_null=True)
    in_recurring_structure = serializers.FloatField(allow_null=True)
    share_in_recurring_structure = serializers.FloatField(allow_null=True)


class WindowSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()


class WeightSerializer(serializers.Serializer):
    severity = serializers.CharField()
    label = serializers.CharField()
    weight = serializers.FloatField()


class WeightingSerializer(serializers.Serializer):
    weights = WeightSerializer(many=True)
    hours_cap = serializers.FloatField(help_text="An incident's hours count at most this much.")


class SeverityRowSerializer(serializers.Serializer):
    severity = serializers.ChoiceField(choices=Incident.Severity.choices)
    label = serializers.CharField()
    weight = serializers.FloatField(allow_null=True)
    incidents = serializers.IntegerField()
    weighted_hours = serializers.FloatField(allow_null=True)
    weighted_hours_unknown = serializers.IntegerField()
    figure = serializers.CharField()


class StructureIncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    started_at = serializers.DateTimeField()


class StructureRowSerializer(serializers.Serializer):
    signature = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField(help_text="The kind of structure, in words.")
    patterns = serializers.ListField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=["new", "continuing", "recurred despite remediation"])
    incidents_in_window = serializers.IntegerField()
    incidents_in_total = serializers.IntegerField()
    recurrences_in_window = serializers.IntegerField(
        help_text="Members in the window that recurred (docs/recurrence.md)."
    )
    last_recurred_at = serializers.DateTimeField()
    weighted_hours_in_window = serializers.FloatField()
    weighted_hours_unknown = serializers.IntegerField()
    users_affected_in_window = serializers.IntegerField(allow_null=True)
    users_affected_unknown = serializers.IntegerField()
    incidents = StructureIncidentSerializer(many=True)
    hidden_incidents = serializers.IntegerField(
        help_text="Always 0 since schema version 2: a snapshot lists every member it counts."
    )
    components = serializers.ListField(child=serializers.CharField())
    open_structural_actions = serializers.ListField(child=serializers.CharField())
    figure = serializers.CharField(help_text="Key in `figures` of its incidents in the window.")


class RemediationRowSerializer(serializers.Serializer):
    leverage_number = serializers.IntegerField(allow_null=True)
    leverage_level = serializers.CharField()
    kind = serializers.ChoiceField(choices=["component_patch", "structural_fix"])
    kind_label = serializers.CharField()
    state = serializers.ChoiceField(choices=["done", "open"])
    state_label = serializers.CharField()
    count = serializers.IntegerField(help_text="Action items.")
    figure = serializers.CharField(help_text="Key in `figures` of the items' incidents.")


class RemediationSerializer(serializers.Serializer):
    by_level = RemediationRowSerializer(many=True)
    totals_by_kind = serializers.DictField(child=serializers.IntegerField())


class HotspotSerializer(serializers.Serializer):
    component = serializers.CharField()
    incidents = serializers.IntegerField()
    direct = serializers.IntegerField()
    via_dependency = serializers.IntegerField()
    figure = serializers.CharField()


class ShapeTotalSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    total = serializers.IntegerField()
    figure = serializers.CharField()


class ShapePeriodSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="e.g. `Jan 2025`, `Q1 2025` or `2025`.")
    counts = serializers.ListField(
        child=serializers.IntegerField(), help_text="Incidents per shape, in `shapes` order."
    )


class ShapeMixSerializer(serializers.Serializer):
    bucket = serializers.ChoiceField(choices=["month", "quarter", "year"])
    shapes = ShapeTotalSerializer(many=True)
    periods = ShapePeriodSerializer(many=True)


class PerrowCellSerializer(serializers.Serializer):
    complexity = serializers.IntegerField()
    coupling = serializers.IntegerField()
    count = serializers.IntegerField()


class PerrowPointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    complexity = serializers.IntegerField()
    coupling = serializers.IntegerField()


class ReportIncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    severity = serializers.ChoiceField(choices=Incident.Severity.choices)
    severity_label = serializers.CharField()
    status = serializers.ChoiceField(choices=Incident.Status.choices)
    status_label = serializers.CharField()
    hours = serializers.FloatField(
        allow_null=True, help_text="Capped; null when the end is unknown."
    )
    weight = serializers.FloatField(allow_null=True)
    weighted_hours = serializers.FloatField(allow_null=True)
    users_affected = serializers.IntegerField(allow_null=True)
    restricted = serializers.BooleanField()


class WindowIncidentSerializer(ReportIncidentSerializer):
    shapes = serializers.ListField(child=serializers.CharField())
    patterns = serializers.ListField(child=serializers.CharField())


class FigureSerializer(serializers.Serializer):
    title = serializers.CharField()
    ids = serializers.ListField(child=serializers.IntegerField())


class SnapshotSerializer(serializers.Serializer):
    """The immutable content of a finished report (also the JSON export)."""

    schema_version = serializers.IntegerField()
    generated_at = serializers.DateTimeField()
    params = ReportRequestSerializer()
    window = serializers.CharField(help_text="The window in words, or `All time`.")
    filters = serializers.ListField(child=serializers.CharField())
    previous_window = WindowSerializer(allow_null=True)
    catalogue_version = serializers.CharField()
    weighting = WeightingSerializer()
    restricted_counted_not_shown = serializers.IntegerField(
        help_text=(
            "Always 0 since schema version 2: every figure counts only incidents the report's "
            "requester may see, and the report opens only for people who may see them too."
        )
    )
    headline = HeadlineSerializer()
    previous_headline = HeadlineSerializer(allow_null=True)
    change = ChangeSerializer(allow_null=True)
    by_severity = SeverityRowSerializer(many=True)
    structures = StructureRowSerializer(many=True)
    component_patch_only_structures = serializers.ListField(child=serializers.CharField())
    remediation = RemediationSerializer()
    hotspots = HotspotSerializer(many=True)
    shape_mix = ShapeMixSerializer()
    perrow_cells = PerrowCellSerializer(many=True)
    perrow_points = PerrowPointSerializer(many=True)
    perrow_unplaced = serializers.IntegerField()
    incidents = WindowIncidentSerializer(many=True)
    other_incidents = ReportIncidentSerializer(
        many=True, help_text="The previous window's and the undated incidents some figure counts."
    )
    figures = serializers.DictField(
        child=FigureSerializer(),
        help_text="The incidents behind each figure, by key (`figure` fields name them).",
    )


class ReportSerializer(serializers.ModelSerializer):
    """A report's status; the snapshot once it is done."""

    url = serializers.HyperlinkedIdentityField(view_name="api:report-detail")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    snapshot = serializers.SerializerMethodField()
    exports = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = [
            "id", "url", "status", "params", "created_by", "created_at", "finished_at",
            "catalogue_version", "error", "exports", "snapshot",
        ]  # fmt: skip

    @extend_schema_field(SnapshotSerializer(allow_null=True))
    def get_snapshot(self, obj: Report):
        return obj.snapshot if self.context.get("with_snapshot", True) else None

    @extend_schema_field(serializers.DictField(child=serializers.URLField()))
    def get_exports(self, obj: Report) -> dict[str, str]:
        if obj.status != Report.Status.DONE:
            return {}
        request = self.context.get("request")
        return {
            fmt: reverse("reports:export", args=[obj.pk, fmt], request=request)
            for fmt in ("md", "json", "zip")
        }
