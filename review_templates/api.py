"""API v1 of review templates: read them, and name one when opening a review."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets

from common.api.errors import error_body
from common.api.schema import read_only_schema
from incidents.bounds import MAX_DB_INT

from .models import ReviewTemplate
from .requirements import RequiredSectionsEmpty
from .sections import MAX_PROMPT_CHARS, SECTION_CHOICES, TIMELINE_KINDS
from .selectors import find_template


class ReviewTemplateSerializer(serializers.ModelSerializer):
    """A review template: what a review written from it must contain before it is sent for
    review, the timeline rows it starts with, and the question beside each section."""

    url = serializers.HyperlinkedIdentityField(view_name="api:review-template-detail")
    required_sections = serializers.ListField(
        child=serializers.ChoiceField(choices=SECTION_CHOICES),
        help_text="Sections that must be filled in before the review is sent for review.",
    )
    required_labels = serializers.SerializerMethodField(
        help_text="The same sections, in people's words."
    )
    timeline_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=TIMELINE_KINDS),
        help_text="The timeline rows a new review starts with, in order (kind only).",
    )
    prompts = serializers.DictField(
        child=serializers.CharField(max_length=MAX_PROMPT_CHARS),
        help_text="Section name → the question shown beside that section.",
    )

    class Meta:
        model = ReviewTemplate
        fields = [
            "id",
            "url",
            "name",
            "description",
            "is_default",
            "required_sections",
            "required_labels",
            "timeline_kinds",
            "prompts",
            "created_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_required_labels(self, obj: ReviewTemplate) -> list[str]:
        return obj.required_labels()


class TemplateSummarySerializer(serializers.ModelSerializer):
    """The template a review was written from."""

    url = serializers.HyperlinkedIdentityField(view_name="api:review-template-detail")

    class Meta:
        model = ReviewTemplate
        fields = ["id", "name", "url"]


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": MAX_DB_INT},
            {"type": "string", "minLength": 1, "maxLength": 120},
        ],
        "nullable": True,
        "description": "The review template, by id or by name (see /api/v1/templates/). "
        "Not given: the default template; null: none.",
    }
)
class TemplateRefField(serializers.Field):
    """A review template named by its id or its name."""

    default_error_messages = {
        "unknown": "Unknown review template {value!r}; see /api/v1/templates/ for the "
        "templates (give an id or a name).",
        "invalid": "Give a template's id (a number) or its name (text).",
    }

    def to_internal_value(self, data) -> ReviewTemplate:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        template = find_template(data)
        if template is None:
            self.fail("unknown", value=data)
        return template

    def to_representation(self, value: ReviewTemplate):
        return value.pk


@extend_schema_view(**read_only_schema("Review templates", ReviewTemplateSerializer))
class ReviewTemplateViewSet(viewsets.ReadOnlyModelViewSet):
    """The organisation's review templates (defined on the web pages at /templates/)."""

    serializer_class = ReviewTemplateSerializer
    queryset = ReviewTemplate.objects.order_by("name", "id")


REFUSED_STATUS = 409


def refusal_body(refused: RequiredSectionsEmpty) -> dict:
    """The API's error document for a review sent for review while sections its template
    requires are empty: 409, the message in people's words, and under `fields` each missing
    section (by its API name) with what is wrong with it."""
    return error_body(
        REFUSED_STATUS,
        "required_sections_empty",
        str(refused),
        {
            section.name: [f"{section.label}: required by “{refused.template_name}”, still empty."]
            for section in refused.missing
        },
    )
