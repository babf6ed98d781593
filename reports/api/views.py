"""Recurrence reports through the API: POST starts a job (202), GET polls it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from common.api.conditional import ConditionalRetrieveMixin
from common.api.schema import ERRORS, LIST_ERRORS, READ_ERRORS
from idempotency.api import idempotent
from reports.models import Report
from reports.services import report_request

from .serializers import ReportRequestSerializer, ReportSerializer


@extend_schema_view(
    list=extend_schema(
        summary="Recurrence reports you may read",
        responses={200: ReportSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One report: poll its status; the snapshot once done",
        responses={200: ReportSerializer, **READ_ERRORS, 404: ERRORS[404]},
    ),
    create=extend_schema(
        summary="Start a report job",
        description=(
            "Rules the schema cannot state: give both `since` and `until`, or neither for all "
            "time; `until` must be after `since`, and a window may span at most five years "
            "(a report reads every incident in it and the one before it); `component` must "
            "name a component you may see (one only restricted reviews use is unknown to you). "
            "Each broken rule answers 400 naming the field."
        ),
        request=ReportRequestSerializer,
        responses={202: ReportSerializer, **ERRORS},
    ),
)
class ReportViewSet(
    ConditionalRetrieveMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Recurrence reports: POST starts one (202), GET polls it and returns the snapshot."""

    serializer_class = ReportSerializer
    post_is_read = True  # asking for a report changes no review

    def etag_for(self, obj: Report) -> str:
        return f"report-{obj.pk}-{obj.status}"

    def get_queryset(self):
        # `page` is the web page's trimmed copy of the snapshot: the API never reads it, and a
        # list never reads the snapshot either.
        reports = (
            Report.objects.visible_to(self.request.user).select_related("created_by").defer("page")
        )
        if self.action == "list":
            reports = reports.defer("snapshot", "page")
        return reports.order_by("-created_at", "id")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "with_snapshot": self.action != "list"}

    @idempotent
    def create(self, request, *args, **kwargs):
        question = ReportRequestSerializer(data=request.data, context={"request": request})
        question.is_valid(raise_exception=True)
        report = report_request(by=request.user, params=question.to_params())
        report.refresh_from_db()
        body = ReportSerializer(report, context=self.get_serializer_context()).data
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": str(body["url"])}
        )
