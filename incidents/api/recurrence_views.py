"""Recurring structures in the API: the ranked, filtered list and one structure's detail."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.response import Response

from incidents.bounds import MAX_DB_INT
from incidents.selectors import recurring_structures_for
from incidents.structure_page import card, structure_view, visible_structure

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
        responses={200: RecurringStructureDetailSerializer, **READ_ERRORS, 404: ERRORS[404]},
    ),
)
class RecurrenceViewSet(viewsets.GenericViewSet):
    """Structures seen in two or more incidents the reader may see; every figure is computed
    from those incidents only (`incidents.selectors.recurring_structures_for`)."""

    filterset_class = RecurrenceFilter
    serializer_class = RecurringStructureSerializer

    def get_queryset(self):
        return recurring_structures_for(self.request.user)

    def get_serializer_class(self):
        if self.action == "retrieve":
            return RecurringStructureDetailSerializer
        return RecurringStructureSerializer

    def list(self, request, *args, **kwargs):
        structures = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(structures)
        cards = [card(structure) for structure in page]
        return self.get_paginated_response(self.get_serializer(cards, many=True).data)

    def retrieve(self, request, pk=None, *args, **kwargs):
        # Not a whole number the database can hold: no such structure, like any other.
        number = int(pk) if str(pk).isdigit() and int(pk) <= MAX_DB_INT else 0
        view = structure_view(visible_structure(request.user, number))
        return Response(self.get_serializer(view).data)
