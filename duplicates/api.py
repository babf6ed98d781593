"""API for possible duplicates: list them, merge a pair or dismiss it.

Registered on the API's one router (`/api/v1/duplicates/`). A pair with a review the caller
may not see does not exist for them (never listed, 404); deciding needs the right to edit
both reviews (403 with a message otherwise) and a write token.
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.response import Response

from common.api.schema import documented_error
from idempotency.api import idempotent
from incidents.api.schema import ERRORS, LIST_ERRORS, READ_ERRORS
from incidents.api.serializers import StrictFieldsMixin
from incidents.models import Incident

from . import services
from .models import PossibleDuplicate
from .permissions import DECIDE_REFUSED, can_decide
from .selectors import pairs_visible_to


class DuplicateReviewSerializer(serializers.ModelSerializer):
    """One review of a pair: enough to tell the two sources apart."""

    url = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = ["id", "title", "organisation", "started_at", "resolved_at", "source_url", "url"]

    def get_url(self, obj: Incident) -> str:
        return self.context["request"].build_absolute_uri(f"/api/v1/incidents/{obj.pk}/")


class PossibleDuplicateSerializer(serializers.ModelSerializer):
    """A pair of reviews that may describe the same incident, and the decision on it."""

    first = DuplicateReviewSerializer()
    second = DuplicateReviewSerializer()
    reasons = serializers.ListField(child=serializers.CharField())
    primary = serializers.IntegerField(
        source="primary_id", allow_null=True, help_text="The review kept, once merged."
    )
    merged_away = serializers.IntegerField(
        source="merged_away_id",
        allow_null=True,
        help_text="The review merged into `primary` (it stays readable), once merged.",
    )
    decided_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Who decided, once decided.",
    )

    class Meta:
        model = PossibleDuplicate
        fields = ["id", "first", "second", "similarity", "reasons", "status", "primary",
                  "merged_away", "decided_by", "decided_at", "created_at"]  # fmt: skip
        read_only_fields = fields


class MergeSerializer(StrictFieldsMixin, serializers.Serializer):
    keep = serializers.IntegerField(
        min_value=1, help_text="The id of the review to keep: one of the pair."
    )


class AlreadyDecided(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "already_decided"
    default_detail = "This pair was already decided."


EXAMPLE_PAIR = {
    "id": 7,
    "first": {"id": 12, "title": "Storage service interruption", "organisation": "Acme",
              "started_at": "2024-11-19T00:51:00Z", "resolved_at": "2024-11-19T11:45:00Z",
              "source_url": "https://status.example.com/incidents/1",
              "url": "https://seams.example.com/api/v1/incidents/12/"},
    "second": {"id": 31, "title": "Storage service interruption: our update",
               "organisation": "Acme", "started_at": "2024-11-19T00:51:00Z",
               "resolved_at": "2024-11-19T11:45:00Z",
               "source_url": "https://blog.example.com/storage-interruption",
               "url": "https://seams.example.com/api/v1/incidents/31/"},
    "similarity": 0.91,
    "reasons": ["same organisation: Acme", "times overlap: 2024-11-19 00:51 to 2024-11-19 "
                "11:45 UTC", "text similarity 0.91"],
    "status": "open", "primary": None, "merged_away": None, "decided_by": None,
    "decided_at": None, "created_at": "2024-11-20T08:00:00Z",
}  # fmt: skip
MERGED_PAIR = {**EXAMPLE_PAIR, "status": "merged", "primary": 12, "merged_away": 31,
               "decided_by": "alex", "decided_at": "2024-11-21T09:30:00Z"}  # fmt: skip
DECISION_ERRORS = {
    **ERRORS,
    403: documented_error(403, "permission_denied", DECIDE_REFUSED,
                "You may not edit both reviews (or the token has read scope)."),
    404: documented_error(404, "not_found", "No PossibleDuplicate matches the given query.",
                "No such pair, or one of its reviews is not visible to you."),
    409: documented_error(409, "already_decided",
                "This pair was already dismissed by alex; reload to see the decision.",
                "Already merged or dismissed, or a review was merged into a third one."),
}  # fmt: skip


@extend_schema_view(
    list=extend_schema(
        summary="Possible duplicates",
        description=(
            "Pairs of reviews that may describe the same incident (the same organisation, "
            "overlapping times, similar text), newest first; only pairs whose two reviews "
            "you may see. `reasons` says why each was flagged."
        ),
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=PossibleDuplicate.Status.values,
                description="Only pairs with this status (open, merged or dismissed).",
            )
        ],
        responses={200: PossibleDuplicateSerializer(many=True), **LIST_ERRORS},
        examples=[OpenApiExample("An open pair", value=EXAMPLE_PAIR, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One possible duplicate",
        responses={200: PossibleDuplicateSerializer, **READ_ERRORS, 404: DECISION_ERRORS[404]},
    ),
    merge=extend_schema(
        summary="Merge a pair: keep one review, both sources kept",
        description=(
            "The review named by `keep` is kept; the other is recorded as merged into it and "
            "stays readable (its page says so, and the kept review lists both sources). "
            "Needs the right to edit both reviews and a write token."
        ),
        request=MergeSerializer,
        responses={200: PossibleDuplicateSerializer, **DECISION_ERRORS},
        examples=[
            OpenApiExample("Keep review 12", value={"keep": 12}, request_only=True),
            OpenApiExample("Merged", value=MERGED_PAIR, response_only=True),
        ],
    ),
    dismiss=extend_schema(
        summary="Dismiss a pair: not the same incident",
        description="The pair is never flagged again. Needs the right to edit both reviews.",
        request=None,
        responses={200: PossibleDuplicateSerializer, **DECISION_ERRORS},
        examples=[
            OpenApiExample(
                "Dismissed",
                value={
                    **EXAMPLE_PAIR,
                    "status": "dismissed",
                    "decided_by": "alex",
                    "decided_at": "2024-11-21T09:30:00Z",
                },
                response_only=True,
            )
        ],
    ),
)
class DuplicateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Possible duplicates whose two reviews the caller may see."""

    serializer_class = PossibleDuplicateSerializer

    def get_queryset(self):
        pairs = pairs_visible_to(self.request.user).select_related("first", "second", "decided_by")
        wanted = self.request.query_params.get("status")
        if self.action == "list" and wanted is not None:
            # Empty is not a status either: refused like any unknown value.
            if wanted not in PossibleDuplicate.Status.values:
                raise ValidationError(
                    {"status": [f"Use one of: {', '.join(PossibleDuplicate.Status.values)}."]}
                )
            pairs = pairs.filter(status=wanted)
        return pairs.order_by("-created_at", "-id")

    def _decidable(self) -> PossibleDuplicate:
        pair = self.get_object()
        if not can_decide(self.request.user, pair):
            raise PermissionDenied(DECIDE_REFUSED)
        return pair

    def _answer(self, pair: PossibleDuplicate) -> Response:
        fresh = self.get_queryset().get(pk=pair.pk)
        return Response(self.get_serializer(fresh).data)

    @action(detail=True, methods=["post"])
    @idempotent
    def merge(self, request, pk=None):
        pair = self._decidable()
        body = MergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.duplicate_merge(pair=pair, by=request.user, keep=body.validated_data["keep"])
        except services.NotInPair as refused:
            raise ValidationError({"keep": [str(refused)]}) from refused
        except services.DecisionRefused as refused:
            raise AlreadyDecided(str(refused)) from refused
        return self._answer(pair)

    @action(detail=True, methods=["post"])
    @idempotent
    def dismiss(self, request, pk=None):
        pair = self._decidable()
        try:
            services.duplicate_dismiss(pair=pair, by=request.user)
        except services.DecisionRefused as refused:
            raise AlreadyDecided(str(refused)) from refused
        return self._answer(pair)
