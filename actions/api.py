"""API for action items: list them (mine, overdue, by status, structure or leverage level),
read one, and close one.

Only items of reviews the caller may see exist here (others answer 404). Closing needs a
write token and the right to close the item (`actions.permissions.can_close`): its owner,
or whoever may edit its review.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from common.api.schema import ERRORS, LIST_ERRORS, READ_ERRORS, documented_error
from idempotency.api import idempotent
from incidents.api.serializers import ActionItemSerializer, StrictFieldsMixin
from incidents.models import ActionItem
from incidents.services import action_item_set_status

from . import selectors
from .filters import ActionItemFilter
from .permissions import CLOSE_REFUSED, can_close


class ActionItemRowSerializer(ActionItemSerializer):
    """An action item with the review it belongs to."""

    url = serializers.HyperlinkedIdentityField(view_name="api:action-item-detail")
    incident = serializers.IntegerField(source="incident_id", help_text="The review's id.")
    incident_title = serializers.CharField(source="incident.title")
    review_url = serializers.SerializerMethodField(help_text="The review's page in Seams.")
    overdue = serializers.SerializerMethodField(
        help_text="Open or in progress, and past its due date."
    )

    class Meta(ActionItemSerializer.Meta):
        fields = [
            "id",
            "url",
            *[name for name in ActionItemSerializer.Meta.fields if name != "id"],
            "incident",
            "incident_title",
            "review_url",
            "overdue",
        ]

    def get_review_url(self, obj: ActionItem) -> str:
        return self.context["request"].build_absolute_uri(obj.incident.get_absolute_url())

    def get_overdue(self, obj: ActionItem) -> bool:
        return (
            obj.status in selectors.OPEN_STATUSES
            and obj.due is not None
            and obj.due < timezone.localdate()
        )


class CloseSerializer(StrictFieldsMixin, serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[ActionItem.Status.DONE, ActionItem.Status.WONT_DO],
        default=ActionItem.Status.DONE,
        help_text="`done` (default) or `wont_do`.",
    )


CLOSE_ERRORS = {
    **ERRORS,
    403: documented_error(
        403,
        "permission_denied",
        CLOSE_REFUSED,
        "The token has read scope, or its user may not close this item.",
    ),
    404: documented_error(
        404,
        "not_found",
        "No ActionItem matches the given query.",
        "No such action item, or its review is not visible to you.",
    ),
}


@extend_schema_view(
    list=extend_schema(
        summary="Action items",
        description=(
            "Action items of the reviews you may see: open and in-progress ones first, each "
            "part soonest due first (no due date last). `mine=true` gives your own (yours or "
            "your team's), `overdue=true` those past their due date."
        ),
        responses={200: ActionItemRowSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One action item",
        responses={200: ActionItemRowSerializer, **READ_ERRORS, 404: CLOSE_ERRORS[404]},
    ),
    close=extend_schema(
        summary="Close an action item",
        description=(
            "Mark it done (or won't do), as a new version of its review; Seams records who "
            "closed it and when (`closed_by`, `completed_at`). An item that already has the "
            "status is answered as it is. Needs a write token, and the item's owner (the "
            "person, or a member of the team) or someone who may edit the review behind it."
        ),
        request=CloseSerializer,
        responses={200: ActionItemRowSerializer, **CLOSE_ERRORS},
        examples=[OpenApiExample("Done", value={"status": "done"}, request_only=True)],
    ),
)
class ActionItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Action items of the reviews the caller may see."""

    serializer_class = ActionItemRowSerializer
    filterset_class = ActionItemFilter

    def get_queryset(self):
        return selectors.in_list_order(selectors.visible_items(self.request.user))

    @action(detail=True, methods=["post"])
    @idempotent
    def close(self, request, pk=None):
        item = self.get_object()
        if not can_close(request.user, item):
            raise PermissionDenied(CLOSE_REFUSED)
        body = CloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            action_item_set_status(item=item, by=request.user, status=body.validated_data["status"])
        except ActionItem.DoesNotExist as gone:
            raise NotFound("This action item was removed from its review meanwhile.") from gone
        fresh = self.get_queryset().get(pk=item.pk)
        return Response(self.get_serializer(fresh).data)
