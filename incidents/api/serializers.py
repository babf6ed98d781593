"""Translation between API JSON and Seams' models and services. No domain logic here."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.validators import MaxLengthValidator, MinLengthValidator
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import relations, serializers

from common.api.errors import ErrorSerializer  # noqa: F401 (the views document errors with it)
from incidents.bounds import MAX_DB_INT
from incidents.models import (
    ActionItem,
    Component,
    Incident,
    TimelineEvent,
)
from incidents.permissions import assignable_teams
from incidents.services import ActionEntry, PatternClaim, ReviewContent, TimelineEntry
from review_templates.api import TemplateRefField, TemplateSummarySerializer
from review_templates.selectors import default_template
from taxonomy.api.serializers import slug_enum_schema
from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern

MAX_SECTION = settings.SEAMS_MAX_SECTION_CHARS


class ListOnlyManyRelatedField(serializers.ManyRelatedField):
    """DRF's many-related field takes any iterable, so `{}` passed as an empty list (and a
    dict's keys as slugs); the schema says array, so anything but a list is refused."""

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class CatalogueSlugField(serializers.SlugRelatedField):
    """A slug from the catalogue, with an error that tells a bot where to look."""

    @classmethod
    def many_init(cls, *args, **kwargs):
        # As DRF's RelatedField.many_init, with the list-only parent field.
        list_kwargs = {"child_relation": cls(*args, **kwargs)}
        list_kwargs |= {k: v for k, v in kwargs.items() if k in relations.MANY_RELATION_KWARGS}
        return ListOnlyManyRelatedField(**list_kwargs)

    def __init__(self, *, catalogue_url: str, **kwargs):
        self.catalogue_url = catalogue_url
        super().__init__(slug_field="slug", **kwargs)

    @property
    def _spectacular_annotation(self) -> dict:
        # Read by drf-spectacular when it builds the schema: the valid slugs as an enum.
        name = self.field_name or getattr(self.parent, "field_name", "")
        return {"field": slug_enum_schema(self.get_queryset(), name)}

    def to_internal_value(self, data):
        try:
            return self.get_queryset().get(slug=data)
        except (self.get_queryset().model.DoesNotExist, TypeError, ValueError):
            self.fail_unknown(data)

    def fail_unknown(self, data):
        raise serializers.ValidationError(
            f"Unknown {self.get_queryset().model._meta.verbose_name} {data!r}; "
            f"see {self.catalogue_url} for the valid slugs."
        )


class PatternLinkSerializer(serializers.Serializer):
    slug = serializers.CharField(source="pattern.slug")
    name = serializers.CharField(source="pattern.name")
    rationale = serializers.CharField()


class TimelineEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEvent
        fields = ["occurred_at", "kind", "text", "why_reasonable"]


def _username_field(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field=get_user_model().USERNAME_FIELD, read_only=True, allow_null=True, **kwargs
    )


class ActionItemSerializer(serializers.ModelSerializer):
    leverage_level = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )
    pattern = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    owner_user = _username_field(help_text="The person who owns it (username), if any.")
    owner_team = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True, help_text="The team that owns it."
    )
    closed_by = _username_field(help_text="Who marked it done or won't do (username).")

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "title",
            "owner_user",
            "owner_team",
            "owner",
            "status",
            "due",
            "completed_at",
            "closed_by",
            "tracker_url",
            "kind",
            "leverage_level",
            "pattern",
        ]
        extra_kwargs = {
            "owner": {"help_text": "The owner as written (free text, e.g. from an import)."},
            "completed_at": {"help_text": "When it was marked done or won't do."},
        }


class IncidentSerializer(serializers.ModelSerializer):
    """An incident as bots read it (lists and detail)."""

    url = serializers.HyperlinkedIdentityField(view_name="api:incident-detail")
    shapes = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    components = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    patterns = PatternLinkSerializer(source="pattern_links", many=True, read_only=True)
    action_items = ActionItemSerializer(many=True, read_only=True)
    restricted = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "url",
            "title",
            "status",
            "severity",
            "started_at",
            "detected_at",
            "mitigated_at",
            "resolved_at",
            "summary",
            "shapes",
            "patterns",
            "components",
            "action_items",
            "external_id",
            "source_url",
            "organisation",
            "restricted",
            "version",
            "created_at",
            "updated_at",
        ]

    def get_restricted(self, obj: Incident) -> bool:
        return obj.restricted_to_id is not None


class IncidentDetailSerializer(IncidentSerializer):
    """An incident with the whole review."""

    timeline = TimelineEventSerializer(many=True, read_only=True)
    contributing_factors = serializers.SerializerMethodField()
    template = TemplateSummarySerializer(
        read_only=True,
        allow_null=True,
        help_text="The review template it was written from (what it requires before review).",
    )

    class Meta(IncidentSerializer.Meta):
        fields = [
            *IncidentSerializer.Meta.fields,
            "impact",
            "users_affected",
            "users_affected_count",
            "narrative",
            "went_well",
            "where_lucky",
            "complexity",
            "coupling",
            "timeline",
            "contributing_factors",
            "analysed_at",
            "template",
            "timeline_names_allowed",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_contributing_factors(self, obj: Incident) -> list[str]:
        return [factor.text for factor in obj.contributing_factors.all()]


class StrictFieldsMixin:
    """Refuse fields the endpoint does not know, so a typo ("sumary") is a 400, not silence."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field; see the schema at /api/schema/."] for name in unknown}
                )
            not_text = sorted(
                name for name, value in data.items() if _text_expected(self.fields[name], value)
            )
            if not_text:
                # DRF's CharField turns 42 into "42": the schema says string, so a number (a
                # client's bug) is refused rather than stored as text.
                raise serializers.ValidationError(
                    {name: ["Must be a string (text in quotes)."] for name in not_text}
                )
        return super().to_internal_value(data)


def _text_expected(field, value) -> bool:
    """Whether `value` is a number or a boolean where `field` takes text (or a list of it)."""

    def not_a_string(item) -> bool:
        return isinstance(item, (int, float, bool))

    if isinstance(field, serializers.CharField):
        return not_a_string(value)
    if isinstance(field, serializers.ListField) and isinstance(field.child, serializers.CharField):
        return isinstance(value, list) and any(not_a_string(item) for item in value)
    return False


# --- writing ---------------------------------------------------------------------------


def section(**kwargs) -> serializers.CharField:
    """A Markdown section, with a length limit that answers 400 instead of storing megabytes."""
    return serializers.CharField(required=False, allow_blank=True, max_length=MAX_SECTION, **kwargs)


def users_affected_count() -> serializers.IntegerField:
    """The optional number of users affected: null is unknown, never guessed from prose."""
    return serializers.IntegerField(
        min_value=0,
        max_value=MAX_DB_INT,
        required=False,
        allow_null=True,
        help_text="How many users were affected, if known; null means unknown. The only "
        "number reports add up (never read from the prose of `users_affected`).",
    )


class TimelineEventInSerializer(StrictFieldsMixin, serializers.Serializer):
    occurred_at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=TimelineEvent.Kind.choices, default="observation")
    text = serializers.CharField(max_length=MAX_SECTION)
    why_reasonable = section()


@extend_schema_field({"type": "string", "maxLength": 150})
class OwnerUserField(serializers.SlugRelatedField):
    """An active person, by username."""

    def __init__(self, **kwargs):
        user_model = get_user_model()
        super().__init__(
            slug_field=user_model.USERNAME_FIELD,
            queryset=user_model._default_manager.filter(is_active=True),
            **kwargs,
        )

    def to_internal_value(self, data):
        if not isinstance(data, str) or "\x00" in data:
            # NUL too: PostgreSQL cannot even compare text holding it.
            raise serializers.ValidationError("Give a username (text in quotes, without NUL).")
        found = self.get_queryset().filter(**{self.slug_field: data}).first()
        if found is None:
            raise serializers.ValidationError(
                f"No active user is called {data[:150]!r}; give the username of a person "
                "who can sign in to Seams."
            )
        return found


@extend_schema_field({"type": "string", "maxLength": 150})
class OwnerTeamField(serializers.SlugRelatedField):
    """A team the caller may name (`incidents.permissions.assignable_teams`), by name.

    A group the caller may not name is refused exactly like one that does not exist, so the
    answer tells nobody which closed groups there are."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="name", **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None) or AnonymousUser()
        return assignable_teams(user)

    def to_internal_value(self, data):
        if not isinstance(data, str) or "\x00" in data:
            raise serializers.ValidationError("Give a team's name (text in quotes, without NUL).")
        found = self.get_queryset().filter(name=data).first()
        if found is None:
            raise serializers.ValidationError(
                f"No team called {data[:150]!r} that you may name: give a group you belong "
                "to, or one no review is restricted to."
            )
        return found


class ActionItemInSerializer(StrictFieldsMixin, serializers.Serializer):
    title = serializers.CharField(max_length=300)
    owner_user = OwnerUserField(
        required=False,
        allow_null=True,
        help_text="The person who owns it: an active user's username. They see it under "
        "“My action items” and get its reminders.",
    )
    owner_team = OwnerTeamField(
        required=False,
        allow_null=True,
        help_text="Or the team that owns it: a group you belong to, or one no review is "
        "restricted to. Not both `owner_user` and `owner_team`.",
    )
    owner = serializers.CharField(
        max_length=150,
        required=False,
        allow_blank=True,
        help_text="The owner as written (free text); nobody is reminded of it.",
    )
    status = serializers.ChoiceField(choices=ActionItem.Status.choices, default="open")
    due = serializers.DateField(required=False, allow_null=True)
    tracker_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=ActionItem.Kind.choices, default="component_patch")
    leverage_level = CatalogueSlugField(
        queryset=LeverageLevel.objects.all(),
        catalogue_url="/leverage/",
        required=False,
        allow_null=True,
    )
    pattern = CatalogueSlugField(
        queryset=StructuralPattern.objects.all(),
        catalogue_url="/api/v1/patterns/",
        required=False,
        allow_null=True,
    )

    def validate(self, attrs):
        if attrs.get("owner_user") and attrs.get("owner_team"):
            raise serializers.ValidationError(
                {"owner_team": ["Give a person (`owner_user`) or a team, not both."]}
            )
        return attrs


class PatternClaimInSerializer(StrictFieldsMixin, serializers.Serializer):
    slug = CatalogueSlugField(
        queryset=StructuralPattern.objects.all(), catalogue_url="/api/v1/patterns/"
    )
    rationale = serializers.CharField(max_length=MAX_SECTION)


class IncidentCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    """A draft review opened by a bot. Everything but the title may be filled in later."""

    title = serializers.CharField(max_length=250)
    # A bot that does not say how severe it was leaves it unknown: a guessed SEV3 would be
    # weighed in every cost figure (docs/recurrence.md).
    severity = serializers.ChoiceField(
        choices=Incident.Severity.choices,
        default=Incident.Severity.UNKNOWN,
        help_text="`unknown` when not given, until someone who knows sets it.",
    )
    started_at = serializers.DateTimeField(required=False, allow_null=True)
    detected_at = serializers.DateTimeField(required=False, allow_null=True)
    mitigated_at = serializers.DateTimeField(required=False, allow_null=True)
    resolved_at = serializers.DateTimeField(required=False, allow_null=True)
    summary = section()
    impact = section()
    users_affected_count = users_affected_count()
    narrative = section()
    shapes = CatalogueSlugField(
        queryset=EmergentShape.objects.all(), catalogue_url="/api/v1/shapes/", many=True,
        required=False,
    )  # fmt: skip
    patterns = PatternClaimInSerializer(many=True, required=False)
    components = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=100
    )
    timeline = TimelineEventInSerializer(many=True, required=False)
    contributing_factors = serializers.ListField(
        child=serializers.CharField(max_length=MAX_SECTION), required=False, max_length=100
    )
    action_items = ActionItemInSerializer(many=True, required=False)
    template = TemplateRefField(required=False, allow_null=True)

    def validate_patterns(self, value):
        slugs = [claim["slug"].slug for claim in value]
        if len(slugs) != len(set(slugs)):
            raise serializers.ValidationError("Each pattern may be linked only once.")
        return value

    def to_content(self) -> ReviewContent:
        """The validated data as the service's input."""
        data = self.validated_data
        scalar = ["title", "severity", "started_at", "detected_at", "mitigated_at",
                  "resolved_at", "summary", "impact", "users_affected_count",
                  "narrative"]  # fmt: skip
        return ReviewContent(
            fields={
                "status": Incident.Status.DRAFT,
                # Not named: the default template, as on the new-review page; null: none.
                "template": data["template"] if "template" in data else default_template(),
                **{k: data[k] for k in scalar if k in data},
            },
            shapes=list(data.get("shapes", [])),
            components=list(data.get("components", [])),
            timeline=[TimelineEntry(**event) for event in data.get("timeline", [])],
            factors=list(data.get("contributing_factors", [])),
            actions=[ActionEntry(**item) for item in data.get("action_items", [])],
            patterns=[
                PatternClaim(pattern=claim["slug"], rationale=claim["rationale"])
                for claim in data.get("patterns", [])
            ],
        )


class IncidentPatchSerializer(StrictFieldsMixin, serializers.Serializer):
    """A partial change: only the fields sent are changed. Lists sent replace the old list."""

    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DB_INT,  # beyond it SQLite's integer comparison overflowed (a 500)
        help_text="The version you read; a newer stored one answers 409.",
    )
    title = serializers.CharField(max_length=250, required=False)
    severity = serializers.ChoiceField(choices=Incident.Severity.choices, required=False)
    started_at = serializers.DateTimeField(required=False, allow_null=True)
    detected_at = serializers.DateTimeField(required=False, allow_null=True)
    mitigated_at = serializers.DateTimeField(required=False, allow_null=True)
    resolved_at = serializers.DateTimeField(required=False, allow_null=True)
    summary = section()
    impact = section()
    users_affected = serializers.CharField(max_length=250, required=False, allow_blank=True)
    users_affected_count = users_affected_count()
    narrative = section()
    went_well = section()
    where_lucky = section()
    complexity = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    coupling = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    timeline_names_allowed = serializers.BooleanField(
        required=False,
        help_text="Keep people's names when the timeline is imported from chat (default: roles).",
    )
    shapes = CatalogueSlugField(
        queryset=EmergentShape.objects.all(), catalogue_url="/api/v1/shapes/", many=True,
        required=False,
    )  # fmt: skip
    patterns = PatternClaimInSerializer(many=True, required=False)
    components = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=100
    )

    SCALARS = ("title", "severity", "started_at", "detected_at", "mitigated_at", "resolved_at",
               "summary", "impact", "users_affected", "users_affected_count", "narrative",
               "went_well", "where_lucky", "complexity", "coupling",
               "timeline_names_allowed")  # fmt: skip

    def changes(self) -> dict:
        """Keyword arguments for `services.incident_patch`; `{"fields": {}}` when the patch
        changes nothing (an empty merge patch, or `version` alone)."""
        data = self.validated_data
        out: dict = {"fields": {k: data[k] for k in self.SCALARS if k in data}}
        if "shapes" in data:
            out["shapes"] = list(data["shapes"])
        if "components" in data:
            out["components"] = list(data["components"])
        if "patterns" in data:
            out["patterns"] = [
                PatternClaim(pattern=c["slug"], rationale=c["rationale"]) for c in data["patterns"]
            ]
        return out


def list_size_validators(minimum: int, maximum: int) -> list:
    """The size bounds of a nested list, as validators drf-spectacular states as `minItems`
    and `maxItems` (it does not read `allow_empty` or a list serializer's `max_length`,
    which still give the messages: they are checked first). Given to the ListSerializer
    itself: `many=True` would hand them to each item."""
    return [MinLengthValidator(minimum), MaxLengthValidator(maximum)]


class TimelineAppendSerializer(StrictFieldsMixin, serializers.Serializer):
    """Events a bot appends while an incident unfolds."""

    events = serializers.ListSerializer(
        child=TimelineEventInSerializer(),
        allow_empty=False,
        max_length=200,
        validators=list_size_validators(1, 200),
    )


class ActionItemsAppendSerializer(StrictFieldsMixin, serializers.Serializer):
    """Action items to add to a review."""

    action_items = serializers.ListSerializer(
        child=ActionItemInSerializer(),
        allow_empty=False,
        max_length=100,
        validators=list_size_validators(1, 100),
    )


class ComponentSerializer(serializers.ModelSerializer):
    """A component, what it depends on and what depends on it."""

    depends_on = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    dependents = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    incidents = serializers.IntegerField(
        source="visible_incidents", read_only=True, help_text="Incidents you may see."
    )

    class Meta:
        model = Component
        fields = ["slug", "name", "description", "depends_on", "dependents", "incidents"]


# --- similarity -----------------------------------------------------------------------------


SCOPE_HELP = (
    "`anywhere` (default): has this structure happened anywhere, at any organisation? "
    "`organisation`: has this happened to us before? Only reviews of `organisation` "
    "(blank: the organisation running Seams)."
)


class SimilarRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    """A bot's question: "have we seen this before?"."""

    text = serializers.CharField(max_length=MAX_SECTION, trim_whitespace=True)
    limit = serializers.IntegerField(min_value=1, max_value=50, default=5)
    scope = serializers.ChoiceField(
        choices=["anywhere", "organisation"], default="anywhere", help_text=SCOPE_HELP
    )
    organisation = serializers.CharField(
        max_length=200,
        required=False,
        default="",
        allow_blank=True,
        help_text="Whose incident this is (blank: yours). Used by `scope=organisation`.",
    )


class SuggestedPatternSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    score = serializers.FloatField()
    matched = serializers.ListField(child=serializers.CharField(), help_text="Phrases found.")
    shown_by = serializers.ListField(
        child=serializers.CharField(),
        help_text="When the text names none of the pattern's phrases: titles of the similar "
        "past reviews (among the results) that show it.",
    )
    why = serializers.CharField()


class SharedPatternSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    query_evidence = serializers.ListField(child=serializers.CharField())
    candidate_evidence = serializers.ListField(child=serializers.CharField())


class SharedMechanismSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    pattern_name = serializers.CharField()
    query_evidence = serializers.ListField(child=serializers.CharField())
    candidate_evidence = serializers.ListField(child=serializers.CharField())


CONFIDENCE_HELP = (
    "`strong`, `possible` or `weak`, from the score; docs/similarity.md gives the precision "
    "measured at each level on public post-mortems Seams was not tuned on."
)


class SimilarIncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="incident.id")
    title = serializers.CharField(source="incident.title")
    url = serializers.SerializerMethodField()
    organisation = serializers.CharField(source="incident.organisation")
    score = serializers.FloatField()
    confidence = serializers.ChoiceField(
        choices=["strong", "possible", "weak"], help_text=CONFIDENCE_HELP
    )
    lexical = serializers.FloatField(help_text="Part of the score from shared words (BM25).")
    cause = serializers.FloatField(help_text="Part from the words of the causes.")
    structure = serializers.FloatField(help_text="Part from shared patterns.")
    shared_mechanisms = SharedMechanismSerializer(many=True)
    shared_patterns = SharedPatternSerializer(many=True)
    matched_terms = serializers.ListField(child=serializers.CharField())
    same_organisation = serializers.BooleanField()
    possible_duplicate = serializers.BooleanField(
        help_text="Flagged as possibly the same incident (from another source)."
    )
    duplicate_reasons = serializers.ListField(child=serializers.CharField())
    why = serializers.CharField()

    def get_url(self, obj) -> str:
        request = self.context.get("request")
        path = reverse("api:incident-detail", args=[obj.incident.pk])
        return request.build_absolute_uri(path) if request else path


class ConfidenceSerializer(serializers.Serializer):
    level = serializers.ChoiceField(
        choices=["strong", "possible", "weak"], help_text=CONFIDENCE_HELP
    )
    score = serializers.FloatField(help_text="The best result's score (0 when none).")


class SimilarResultSerializer(serializers.Serializer):
    """Similar past incidents and likely patterns, each with a score and an explanation."""

    incidents = SimilarIncidentSerializer(many=True)
    patterns = SuggestedPatternSerializer(many=True)
    scope = serializers.ChoiceField(choices=["anywhere", "organisation"], help_text=SCOPE_HELP)
    confidence = ConfidenceSerializer()
    confident_match = serializers.BooleanField(
        help_text="False when no result clears the `possible` level: nothing found is "
        "likely to be the same structure, whatever the list shows."
    )
