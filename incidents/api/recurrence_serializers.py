"""Recurring structures in the API: the list (one card per structure) and one structure.

Both read what `incidents.structure_page` computed from the reviews the reader may see: a
restricted review they may not see changes nothing in an answer, not even a count. Codes
(`kind`, `status`, `severity`) come with their labels, for bots that show them to people.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.models import Incident, RecurrenceMembership, RecurringStructure
from incidents.structure_page import RECENT_MEMBERS, Card, StructureView, since


@extend_schema_field({"type": "string", "enum": RecurringStructure.Kind.values})
class StructureKindField(serializers.CharField):
    """`pattern`, `mechanism` or `pair` (an inline enum: other fields are named `kind` too)."""


@extend_schema_field({"type": "string", "enum": Incident.Severity.values})
class SeverityCodeField(serializers.CharField):
    """An incident's severity code, `unknown` included (inline, as `StructureKindField`)."""


class RecurrenceMemberSerializer(serializers.Serializer):
    """A member of a structure, as listed with it."""

    id = serializers.IntegerField(source="incident.id")
    title = serializers.CharField(source="incident.title")
    occurred_at = serializers.DateTimeField(
        source="incident.started_at",
        allow_null=True,
        help_text="When the incident began; null when nobody knows.",
    )
    components = serializers.SerializerMethodField()
    basis = serializers.CharField(help_text="`linked` by an author, or found in the `text`.")
    after_remediation = serializers.BooleanField(
        source="link.after_remediation",
        help_text="The incident before it (among those you may see) had its remediation "
        "done when this one began.",
    )
    remediation_kinds = serializers.ListField(
        source="link.kinds",
        child=serializers.CharField(),
        help_text="The kinds of action item the incident before it had.",
    )

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_components(self, membership: RecurrenceMembership) -> list[str]:
        return [c.name for c in membership.incident.components.all()]


class _CostFields(serializers.Serializer):
    weighted_hours = serializers.FloatField(
        source="cost.weighted_hours",
        help_text="Severity-weighted incident-hours of the members you may see (each capped "
        "at 72 hours; SEV1 10, SEV2 4, SEV3 1, SEV4 0.25).",
    )
    weighted_hours_unknown = serializers.IntegerField(
        source="cost.weighted_hours_unknown",
        help_text="Members left out of `weighted_hours`: unknown severity, start or end.",
    )
    users_affected = serializers.IntegerField(
        source="cost.users_affected",
        allow_null=True,
        help_text="Users affected, added over members whose number is known; null when none is.",
    )
    users_affected_unknown = serializers.IntegerField(
        source="cost.users_affected_unknown", help_text="Members whose number is unknown."
    )


class RecurringStructureSerializer(_CostFields):
    """A structure seen in two or more incidents that you may see. Every figure comes from
    those incidents only."""

    id = serializers.IntegerField(source="structure.id")
    signature = serializers.CharField(source="structure.signature")
    name = serializers.CharField()
    kind = StructureKindField(
        source="structure.kind",
        help_text="One `pattern`, one known `mechanism` of a pattern, or a `pair` of patterns.",
    )
    kind_label = serializers.CharField(source="kind")
    mechanism = serializers.CharField(
        source="structure.mechanism", help_text="The mechanism's slug; blank unless `kind` is "
        "`mechanism`."
    )  # fmt: skip
    pattern = serializers.SlugField(source="structure.pattern.slug")
    pattern_name = serializers.CharField(source="structure.pattern.name")
    patterns = serializers.SerializerMethodField()
    incident_count = serializers.IntegerField(
        source="members", help_text="Incidents in it that you may see."
    )
    # Kept for clients written against it: a structure is counted per reader, so nothing
    # counted is ever hidden.
    hidden_incidents = serializers.SerializerMethodField(help_text="Always 0.")
    recurrence_count = serializers.IntegerField(
        source="recurrences",
        help_text="Members that recurred: an earlier member's review existed when they began.",
    )
    recurred_despite_remediation = serializers.BooleanField(
        source="despite_remediation",
        help_text="A member you may see began after the remediation of the one before it "
        "(that you may see) was done.",
    )
    first_seen = serializers.SerializerMethodField()
    last_seen = serializers.DateTimeField(allow_null=True)
    days_since_last_seen = serializers.SerializerMethodField()
    mean_interval_days = serializers.SerializerMethodField()
    components = serializers.SerializerMethodField()
    incidents = serializers.SerializerMethodField(
        help_text=f"Its latest {RECENT_MEMBERS} members you may see, in time order "
        "(`incident_count` says how many there are; the structure's detail lists them all, "
        "a page at a time)."
    )
    url = serializers.SerializerMethodField(help_text="The structure's page in Seams.")

    @extend_schema_field(serializers.ListField(child=serializers.SlugField()))
    def get_patterns(self, card: Card) -> list[str]:
        return [p.slug for p in card.structure.patterns.all()]

    def get_hidden_incidents(self, card: Card) -> int:
        return 0

    @extend_schema_field(RecurrenceMemberSerializer(many=True))
    def get_incidents(self, card: Card) -> list[dict]:
        members = self.context.get("recent", {}).get(card.structure.pk, [])
        return RecurrenceMemberSerializer(members, many=True).data

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_first_seen(self, card: Card):
        first = card.seen.first_seen
        return serializers.DateTimeField().to_representation(first) if first else None

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_days_since_last_seen(self, card: Card) -> float | None:
        return since(card.last_seen)

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_mean_interval_days(self, card: Card) -> float | None:
        seen = card.seen
        if seen.dated_count < 2 or seen.first_seen is None or seen.last_seen is None:
            return None
        span = (seen.last_seen - seen.first_seen).total_seconds() / 86400
        return round(span / (seen.dated_count - 1), 1)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_components(self, card: Card) -> list[str]:
        return self.context.get("components", {}).get(card.structure.pk, [])

    def get_url(self, card: Card) -> str:
        request = self.context.get("request")
        path = f"/recurrences/{card.structure.pk}/"
        return request.build_absolute_uri(path) if request else path


# --- one structure ---------------------------------------------------------------------------


class StructureMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="incident.id")
    title = serializers.CharField(source="incident.title")
    started_at = serializers.DateTimeField(
        source="incident.started_at", allow_null=True, help_text="Null: the date is unknown."
    )
    severity = SeverityCodeField(source="incident.severity")
    severity_label = serializers.CharField(source="incident.get_severity_display")
    weighted_hours = serializers.FloatField(
        allow_null=True, help_text="Null when its severity, start or end is unknown."
    )
    users_affected = serializers.IntegerField(
        source="incident.users_affected_count", allow_null=True, help_text="Null: unknown."
    )
    components = serializers.SerializerMethodField()
    basis = serializers.CharField(
        source="membership.basis", help_text="`linked` by an author, or found in the `text`."
    )
    recurred = serializers.BooleanField(
        help_text="An earlier member's review (that you may see) existed when it began."
    )
    after_remediation = serializers.BooleanField(
        help_text="The member before it had its remediation done when this one began."
    )

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_components(self, member) -> list[str]:
        return [c.name for c in member.incident.components.all()]


class ComponentUseSerializer(serializers.Serializer):
    slug = serializers.SlugField(source="component.slug")
    name = serializers.CharField(source="component.name")
    incidents = serializers.IntegerField(help_text="Members expressed through it.")


class LeverageSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="12 (parameters, shallow) to 1 (paradigms).")
    slug = serializers.SlugField()
    name = serializers.CharField()


class StructureActionSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="item.id")
    incident = serializers.IntegerField(source="incident.id")
    title = serializers.CharField(source="item.title")
    kind = serializers.CharField(source="item.kind")
    kind_label = serializers.CharField(source="item.get_kind_display")
    status = serializers.CharField(source="item.status")
    status_label = serializers.CharField(source="item.get_status_display")
    completed_at = serializers.DateTimeField(source="item.completed_at", allow_null=True)
    leverage_level = LeverageSerializer(source="item.leverage_level", allow_null=True)
    pattern = serializers.SlugField(
        source="item.pattern.slug", allow_null=True, help_text="The pattern it is aimed at."
    )
    aimed_at_structure = serializers.BooleanField(
        source="aimed", help_text="Linked to one of the structure's patterns."
    )


class CameBackSerializer(serializers.Serializer):
    incident = serializers.IntegerField(source="member.incident.id")
    previous = serializers.IntegerField(source="previous.id")
    remediation = serializers.SerializerMethodField(
        help_text="Ids of the earlier member's action items done before this one began."
    )

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_remediation(self, came_back) -> list[int]:
        return [item.pk for item in came_back.remediation]


class FixSerializer(serializers.Serializer):
    pattern = serializers.SlugField(source="pattern.slug")
    text = serializers.CharField()
    tried_by = serializers.SerializerMethodField(
        help_text="Ids of the first action items that read as attempts at it (empty: not yet "
        "tried)."
    )
    tried_count = serializers.IntegerField(help_text="How many action items read like it.")

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_tried_by(self, fix) -> list[int]:
        return [action.item.pk for action in fix.tried_by]


class RecurringStructureDetailSerializer(_CostFields):
    """One structure: its members in time order (undated last), the components it went
    through, every action item across members, what came back after remediation, and the
    catalogue's structural fixes not yet tried."""

    id = serializers.IntegerField(source="structure.id")
    signature = serializers.CharField(source="structure.signature")
    name = serializers.CharField()
    kind = StructureKindField(source="structure.kind")
    kind_label = serializers.CharField(source="kind")
    mechanism = serializers.CharField(source="structure.mechanism")
    patterns = serializers.SerializerMethodField()
    incident_count = serializers.IntegerField(
        source="member_count", help_text="Members you may see."
    )
    recurrence_count = serializers.IntegerField(source="recurrences")
    recurred_despite_remediation = serializers.BooleanField(source="despite_remediation")
    last_seen = serializers.DateTimeField(allow_null=True)
    days_since_last_seen = serializers.SerializerMethodField()
    members = StructureMemberSerializer(
        many=True,
        help_text="One page of its members (`page`), in time order, undated last.",
    )
    members_page = serializers.IntegerField(source="members_page.number")
    members_pages = serializers.IntegerField(source="members_page.paginator.num_pages")
    components = ComponentUseSerializer(many=True)
    action_items = StructureActionSerializer(
        source="actions",
        many=True,
        help_text="One page of the action items across its members (`actions_page`).",
    )
    action_items_count = serializers.IntegerField(source="actions_page.paginator.count")
    action_items_page = serializers.IntegerField(source="actions_page.number")
    action_items_pages = serializers.IntegerField(source="actions_page.paginator.num_pages")
    came_back_after_remediation = CameBackSerializer(
        source="came_back",
        many=True,
        help_text="The latest members that came back after the remediation of the one before.",
    )
    came_back_count = serializers.IntegerField(
        help_text="How many members came back after remediation in all."
    )
    untried_fixes = FixSerializer(source="untried", many=True)
    tried_fixes = FixSerializer(source="tried", many=True)

    @extend_schema_field(serializers.ListField(child=serializers.SlugField()))
    def get_patterns(self, view: StructureView) -> list[str]:
        return [p.slug for p in view.patterns]

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_days_since_last_seen(self, view: StructureView) -> float | None:
        return since(view.last_seen)
