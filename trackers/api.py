"""API for tracker links: which connections there are, and an action item's link to a
tracker issue (read it; create an issue or link an existing one).

Only items of reviews the caller may see exist here (others answer 404). Asking for a link
needs a write token and the right to close the item (`actions.permissions.can_close`): it
decides the item's status from then on.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.exceptions import APIException, NotFound, PermissionDenied
from rest_framework.response import Response

from actions import selectors as action_selectors
from actions.permissions import CLOSE_REFUSED, can_close
from common.api.schema import ERRORS, LIST_ERRORS, READ_ERRORS, documented_error
from idempotency.api import idempotent
from incidents.api.serializers import StrictFieldsMixin

from . import services
from .models import TrackedIssue, TrackerConnection


class ConnectionSerializer(serializers.ModelSerializer):
    """A tracker connection as people choosing one see it: never its secrets."""

    class Meta:
        model = TrackerConnection
        fields = ["id", "name", "kind", "project", "allow_restricted"]


class TrackedIssueSerializer(serializers.ModelSerializer):
    """An action item's link to its tracker issue."""

    action_item = serializers.IntegerField(source="action_item_id")
    connection = ConnectionSerializer()
    error = serializers.CharField(
        source="last_error",
        help_text=(
            "Why the link could not be made (state `failed`), or why the issue could not be "
            "closed or reopened as its item was in Seams (state `linked`)."
        ),
    )

    class Meta:
        model = TrackedIssue
        fields = [
            "action_item",
            "connection",
            "state",
            "key",
            "url",
            "remote_state",
            "remote_status",
            "remote_actor",
            "last_synced_at",
            "error",
        ]


class TrackerRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    """Create an issue (`create: true`) or link one (`link`), in a connection."""

    connection = serializers.PrimaryKeyRelatedField(
        queryset=TrackerConnection.objects.filter(enabled=True),
        help_text="The connection's id (GET /api/v1/tracker-connections/).",
    )
    create = serializers.BooleanField(
        required=False, default=False, help_text="Create a new issue for the item."
    )
    link = serializers.CharField(
        required=False,
        max_length=500,
        help_text="Link an existing issue instead: its address or key (#12, OPS-12, ENG-12).",
    )

    def validate(self, attrs):
        """Exactly one of `create` and `link`."""
        if attrs.get("create") == bool(attrs.get("link")):
            raise serializers.ValidationError(
                {"create": ["Send either create=true or link (an issue's address or key)."]}
            )
        return attrs


class TrackerRefusedError(APIException):
    """A service refusal, answered with its own status (400, 403 or 409)."""

    def __init__(self, refused: services.TrackerRefused) -> None:
        self.status_code = refused.status
        code = {400: "invalid", 403: "permission_denied", 409: "conflict"}[refused.status]
        super().__init__(str(refused), code)


NOT_FOUND = documented_error(
    404,
    "not_found",
    "No ActionItem matches the given query.",
    "No such action item, its review is not visible to you, or (GET) it is not linked.",
)
POST_ERRORS = {
    **ERRORS,
    403: documented_error(
        403,
        "permission_denied",
        services.RESTRICTED_REFUSED,
        "The token has read scope, the user may not close this item, or the review is "
        "restricted and the connection is not allowed for restricted reviews.",
    ),
    404: NOT_FOUND,
    409: documented_error(
        409,
        "conflict",
        "This action item is already linked to #12 in GitHub.",
        "The item (or the issue) is already linked.",
    ),
}


@extend_schema_view(
    list=extend_schema(
        summary="Tracker connections",
        description="The trackers Seams may create issues in (set up by an admin).",
        responses={200: ConnectionSerializer(many=True), **LIST_ERRORS},
    )
)
class ConnectionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The enabled tracker connections."""

    serializer_class = ConnectionSerializer
    queryset = TrackerConnection.objects.filter(enabled=True).order_by("name", "id")


class ActionItemTrackerView(generics.GenericAPIView):
    """One action item's tracker issue."""

    serializer_class = TrackedIssueSerializer

    def _item(self):
        """The action item, if the caller may see its review (404 otherwise)."""
        items = action_selectors.visible_items(self.request.user).select_related("incident")
        return get_object_or_404(items, pk=self.kwargs["pk"])

    @extend_schema(
        summary="An action item's tracker issue",
        responses={200: TrackedIssueSerializer, **READ_ERRORS, 404: NOT_FOUND},
    )
    def get(self, request, pk: int):
        item = self._item()
        link = TrackedIssue.objects.select_related("connection").filter(action_item=item).first()
        if link is None:
            raise NotFound("This action item is not linked to a tracker issue.")
        return Response(self.get_serializer(link).data)

    @extend_schema(
        summary="Create or link the action item's tracker issue",
        description=(
            "`create: true` creates an issue in the connection's tracker (title: the item's; "
            "body: a link back to the review, never its text); `link` links an existing issue. "
            "Answers 202 at once: a job makes the link (`state` `creating` or `linking`, then "
            "`linked`, or `failed` with `error` once the tracker kept failing). Asking again "
            "after a failure retries it. From then on the tracker's status flows back: done "
            "there closes the item here. Items of restricted reviews are created only in "
            "connections allowed for them. Needs a write token, and the item's owner or "
            "someone who may edit its review."
        ),
        request=TrackerRequestSerializer,
        responses={202: TrackedIssueSerializer, **POST_ERRORS},
        examples=[
            OpenApiExample("Create", value={"connection": 1, "create": True}, request_only=True),
            OpenApiExample("Link", value={"connection": 2, "link": "OPS-12"}, request_only=True),
        ],
    )
    @idempotent
    def post(self, request, pk: int):
        item = self._item()
        if not can_close(request.user, item):
            raise PermissionDenied(CLOSE_REFUSED)
        body = TrackerRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        connection = body.validated_data["connection"]
        try:
            if body.validated_data.get("link"):
                link = services.tracked_issue_link(
                    item=item,
                    connection=connection,
                    by=request.user,
                    reference=body.validated_data["link"],
                )
            else:
                link = services.tracked_issue_create(
                    item=item, connection=connection, by=request.user
                )
        except services.TrackerRefused as refused:
            raise TrackerRefusedError(refused) from refused
        # The job may have run already (embedded mode): answer what is stored now.
        link = TrackedIssue.objects.select_related("connection").get(pk=link.pk)
        return Response(self.get_serializer(link).data, status=status.HTTP_202_ACCEPTED)
