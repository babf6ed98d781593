"""The bodies Seams POSTs to webhook endpoints, as serializers: the OpenAPI schema documents
them (`webhooks.schema`) and the tests check every emitted payload against them."""

from __future__ import annotations

from rest_framework import serializers

from incidents.models import ActionItem, Incident, RecurringStructure

from .models import EventType


class ReviewPayload(serializers.Serializer):
    """A review as an event names it."""

    id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.URLField(help_text="The review's page in Seams.")
    status = serializers.ChoiceField(choices=Incident.Status.choices)
    severity = serializers.ChoiceField(choices=Incident.Severity.choices)
    organisation = serializers.CharField(allow_blank=True, help_text="Blank: your own.")
    restricted = serializers.BooleanField(
        help_text="Restricted to a group: only endpoints scoped to that group receive it."
    )
    version = serializers.IntegerField(help_text="The review's version the event is about.")


class StructurePayload(serializers.Serializer):
    """A recurring structure."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=RecurringStructure.Kind.choices)
    pattern = serializers.SlugField(help_text="The structural pattern's slug.")
    url = serializers.URLField(help_text="The structure's page in Seams.")


class ActionItemPayload(serializers.Serializer):
    """An action item past its due date."""

    id = serializers.IntegerField()
    title = serializers.CharField()
    due = serializers.DateField()
    status = serializers.ChoiceField(choices=ActionItem.Status.choices)
    kind = serializers.ChoiceField(choices=ActionItem.Kind.choices)
    owner = serializers.CharField(
        allow_null=True, help_text="The owner's username or team name, or the free-text owner."
    )
    url = serializers.URLField()


class ReviewPublishedData(serializers.Serializer):
    review = ReviewPayload()
    published_by = serializers.CharField(allow_null=True, help_text="Username.")


class ReviewRequestedData(serializers.Serializer):
    review = ReviewPayload()
    requested_by = serializers.CharField(allow_null=True, help_text="Username.")
    reviewers = serializers.ListField(child=serializers.CharField(), help_text="Usernames.")


class StructureRecurredData(serializers.Serializer):
    structure = StructurePayload()
    review = ReviewPayload(help_text="The review of the incident in which the structure recurred.")
    previous_review = ReviewPayload(
        allow_null=True,
        help_text=(
            "The earlier review it recurred after; null when that review is restricted to "
            "another group than this one."
        ),
    )


class StructureRecurredDespiteRemediationData(StructureRecurredData):
    remediation_kinds = serializers.ListField(
        child=serializers.CharField(),
        help_text="Kinds of the earlier review's action items aimed at the structure (all done).",
    )


class StructureRecognisedData(serializers.Serializer):
    structure = StructurePayload()
    reviews = serializers.IntegerField(
        help_text="How many unrestricted reviews show the structure (restricted ones are "
        "neither counted nor named)."
    )
    earliest_review = ReviewPayload(help_text="The earliest of them.")
    latest_review = ReviewPayload(help_text="The latest of them.")


class ActionItemOverdueData(serializers.Serializer):
    action_item = ActionItemPayload()
    review = ReviewPayload()


class PingData(serializers.Serializer):
    message = serializers.CharField()
    endpoint = serializers.IntegerField(help_text="The endpoint's id in Seams.")
    sent_by = serializers.CharField(allow_null=True, help_text="Username.")


def envelope(name: str, event_type: str, data_serializer: type[serializers.Serializer]):
    """The serializer of one event's whole body: id, type, created_at and its data."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "__doc__": f"The body of a `{event_type}` event.",
            "id": serializers.UUIDField(
                help_text="The event's id: the same on every delivery of it; dedupe on it."
            ),
            "type": serializers.ChoiceField(choices=[event_type]),
            "created_at": serializers.DateTimeField(),
            "data": data_serializer(),
        },
    )


PAYLOADS: dict[str, type[serializers.Serializer]] = {
    EventType.REVIEW_PUBLISHED: envelope(
        "ReviewPublishedEvent", EventType.REVIEW_PUBLISHED, ReviewPublishedData
    ),
    EventType.REVIEW_REQUESTED: envelope(
        "ReviewRequestedEvent", EventType.REVIEW_REQUESTED, ReviewRequestedData
    ),
    EventType.STRUCTURE_RECURRED: envelope(
        "StructureRecurredEvent", EventType.STRUCTURE_RECURRED, StructureRecurredData
    ),
    EventType.STRUCTURE_RECURRED_DESPITE_REMEDIATION: envelope(
        "StructureRecurredDespiteRemediationEvent",
        EventType.STRUCTURE_RECURRED_DESPITE_REMEDIATION,
        StructureRecurredDespiteRemediationData,
    ),
    EventType.STRUCTURE_RECOGNISED: envelope(
        "StructureRecognisedEvent", EventType.STRUCTURE_RECOGNISED, StructureRecognisedData
    ),
    EventType.ACTION_ITEM_OVERDUE: envelope(
        "ActionItemOverdueEvent", EventType.ACTION_ITEM_OVERDUE, ActionItemOverdueData
    ),
    EventType.PING: envelope("PingEvent", EventType.PING, PingData),
}
