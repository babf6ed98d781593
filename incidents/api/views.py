"""API v1 endpoints: thin viewsets over selectors, serializers and services."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.analysis.similarity import similar_to, similar_to_incident, suggest_patterns
from incidents.models import Incident, PatternLink, Report
from incidents.reporting import report_request
from incidents.selectors import recurring_structures_for
from incidents.services import incident_create
from taxonomy.models import StructuralPattern

from .filters import IncidentFilter
from .report_serializers import ReportRequestSerializer, ReportSerializer
from .schema import ERRORS, READ_ERRORS, read_only_schema
from .serializers import (
    IncidentCreateSerializer,
    IncidentDetailSerializer,
    IncidentSerializer,
    RecurringStructureSerializer,
    SimilarRequestSerializer,
    SimilarResultSerializer,
)


def _incidents_for(request):
    """The incidents this request may see, with everything a list row shows prefetched."""
    return (
        Incident.objects.visible_to(request.user)
        .prefetch_related(
            "shapes",
            "components",
            Prefetch("pattern_links", PatternLink.objects.select_related("pattern")),
            "action_items__leverage_level",
            "action_items__pattern",
        )
        .order_by("-started_at", "-id")
    )


@extend_schema_view(
    list=extend_schema(
        summary="List incidents", responses={200: IncidentSerializer(many=True), **ERRORS}
    ),
    retrieve=extend_schema(
        summary="One incident with its whole review",
        responses={200: IncidentDetailSerializer, **READ_ERRORS, 404: ERRORS[404]},
    ),
    create=extend_schema(
        summary="Open a draft review",
        request=IncidentCreateSerializer,
        responses={201: IncidentDetailSerializer, **ERRORS},
    ),
)
@extend_schema_view(
    similar=extend_schema(
        summary="Incidents similar to this one, and its likely patterns",
        responses={200: SimilarResultSerializer, **READ_ERRORS, 404: ERRORS[404]},
    )
)
class IncidentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Incidents visible to the token's user; restricted ones appear only to their group."""

    filterset_class = IncidentFilter

    def get_queryset(self):
        queryset = _incidents_for(self.request)
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("timeline", "contributing_factors")
        return queryset

    def get_serializer_class(self):
        if self.action == "create":
            return IncidentCreateSerializer
        if self.action == "retrieve":
            return IncidentDetailSerializer
        return IncidentSerializer

    def create(self, request, *args, **kwargs):
        serializer = IncidentCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        incident = incident_create(by=request.user, content=serializer.to_content())
        incident = (
            self.get_queryset()
            .prefetch_related("timeline", "contributing_factors")
            .get(pk=incident.pk)
        )
        body = IncidentDetailSerializer(incident, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})

    @action(detail=True, methods=["get"])
    def similar(self, request, pk=None):
        incident = self.get_object()
        limit = min(max(int_or(request.query_params.get("limit"), 5), 1), 50)
        patterns, incidents = similar_to_incident(
            incident=incident, visible=Incident.objects.visible_to(request.user), limit=limit
        )
        data = {"incidents": incidents, "patterns": [_pattern(p) for p in patterns]}
        return Response(SimilarResultSerializer(data, context={"request": request}).data)


def int_or(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _pattern(p) -> dict:
    return {"slug": p.slug, "name": p.name, "score": p.score, "matched": p.matched, "why": p.why}


class SimilarView(APIView):
    """POST free text; get similar past incidents and likely patterns, with explanations."""

    post_is_read = True  # a read token may ask

    @extend_schema(
        summary="Have we seen this before?",
        request=SimilarRequestSerializer,
        responses={200: SimilarResultSerializer, **ERRORS},
    )
    def post(self, request):
        question = SimilarRequestSerializer(data=request.data)
        question.is_valid(raise_exception=True)
        text, limit = question.validated_data["text"], question.validated_data["limit"]
        patterns = suggest_patterns(text=text, limit=limit)
        incidents = similar_to(
            text=text,
            visible=Incident.objects.visible_to(request.user),
            query_patterns=patterns,
            limit=limit,
        )
        data = {"incidents": incidents, "patterns": [_pattern(p) for p in patterns]}
        return Response(SimilarResultSerializer(data, context={"request": request}).data)


@extend_schema_view(**read_only_schema("Recurring structures", RecurringStructureSerializer))
class RecurrenceViewSet(viewsets.ReadOnlyModelViewSet):
    """Structures seen in two or more incidents. Every reader sees the same structures and
    counts; restricted incidents' content appears only to their group."""

    serializer_class = RecurringStructureSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("pattern", str, description="Only structures with this pattern."),
            OpenApiParameter(
                "despite_remediation", bool, description="Only those that recurred after fixes."
            ),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        flag = self.request.query_params.get("despite_remediation")
        if flag not in (None, "", "true", "false"):
            raise ValidationError({"despite_remediation": ["Use true or false."]})
        pattern = self.request.query_params.get("pattern") or None
        if pattern and not StructuralPattern.objects.filter(slug=pattern).exists():
            raise ValidationError({"pattern": [f"Unknown structural pattern {pattern!r}."]})
        return recurring_structures_for(
            self.request.user,
            pattern_slug=pattern,
            despite_remediation=None if flag in (None, "") else flag == "true",
        )


@extend_schema_view(
    list=extend_schema(
        summary="Recurrence reports you may read",
        responses={200: ReportSerializer(many=True), **READ_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One report: poll its status; the snapshot once done",
        responses={200: ReportSerializer, **READ_ERRORS, 404: ERRORS[404]},
    ),
    create=extend_schema(
        summary="Start a report job",
        request=ReportRequestSerializer,
        responses={202: ReportSerializer, **ERRORS},
    ),
)
class ReportViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Recurrence reports: POST starts one (202), GET polls it and returns the snapshot."""

    serializer_class = ReportSerializer
    post_is_read = True  # asking for a report changes no review

    def get_queryset(self):
        reports = Report.objects.visible_to(self.request.user).select_related("created_by")
        if self.action == "list":
            reports = reports.defer("snapshot")
        return reports.order_by("-created_at", "id")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "with_snapshot": self.action != "list"}

    def create(self, request, *args, **kwargs):
        question = ReportRequestSerializer(data=request.data)
        question.is_valid(raise_exception=True)
        report = report_request(by=request.user, params=question.to_params())
        report.refresh_from_db()
        body = ReportSerializer(report, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})
