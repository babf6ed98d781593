"""Recurring structures in the API: the ranked, filtered list and one structure's detail."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from incidents.bounds import MAX_DB_INT
from incidents.models import RecurringStructure
from incidents.structure_page import (
    card,
    components_of,
    recent_members,
    structure_view,
    visible_structure,
)

from .pagination import page_number
from .recurrence_filters import RecurrenceFilter
from .recurrence_serializers import RecurringStructureDetailSerializer, RecurringStructureSerializer
from .schema import ERRORS, LIST_ERRORS, READ_ERRORS


@extend_schema_view(
    list=extend_schema(
        summary="Recurring structures: list",
        description="Ranked by cost (`sort`), those that recurred despite remediation first. "
        "Every figure is computed from the incidents you may see.",
        responses={200: RecurringStructureSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Recurring structures: one, with members, components, action items and the "
        "catalogue's fixes not yet tried",
        parameters=[
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 1},
                description="The page of its members (50 a page).",
            ),
            OpenApiParameter(
                "actions_page",
                {"type": "integer", "minimum": 1},
                description="The page of the action items across its members (50 a page).",
            ),
        ],
        responses={200: RecurringStructureDetailSerializer, **READ_ERRORS, 404: ERRORS[404]},
    ),
)
class RecurrenceViewSet(viewsets.GenericViewSet):
    """Structures seen in two or more incidents the reader may see; every figure is computed
    from those incidents only (`incidents.selectors.recurring_structures_for`)."""

    filterset_class = RecurrenceFilter
    serializer_class = RecurringStructureSerializer

    def get_queryset(self):
        return RecurringStructure.objects.all()

    def get_serializer_class(self):
        if self.action == "retrieve":
            return RecurringStructureDetailSerializer
        return RecurringStructureSerializer

    def list(self, request, *args, **kwargs):
        filters = RecurrenceFilter(request.query_params, self.get_queryset(), request=request)
        if not filters.is_valid():
            raise ValidationError(filters.errors)
        page = self.paginate_queryset(filters.structures())
        context = {
            **self.get_serializer_context(),
            "components": components_of(page, request.user),
            "recent": recent_members(page),
        }
        cards = [card(structure) for structure in page]
        return self.get_paginated_response(
            RecurringStructureSerializer(cards, many=True, context=context).data
        )

    def retrieve(self, request, pk=None, *args, **kwargs):
        # Not a whole number the database can hold: no such structure, like any other.
        number = int(pk) if str(pk).isdigit() and int(pk) <= MAX_DB_INT else 0
        structure = visible_structure(request.user, number)
        page, actions_page = page_number(request), page_number(request, "actions_page")
        view = structure_view(structure, page=page, actions_page=actions_page)
        # Past the last page is no page, as in every list of the API (page 1 always exists).
        if view.members_page.number != page or view.actions_page.number != actions_page:
            raise NotFound("No such page of this structure's members or action items.")
        return Response(self.get_serializer(view).data)
