"""API of the inbox: my notifications, and marking them read.

Only the caller's own notifications exist for them: another person's answers 404.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from common.api.schema import documented_error
from idempotency.api import idempotent
from incidents.api.schema import ERRORS, LIST_ERRORS
from incidents.bounds import MAX_DB_INT

from . import services
from .models import Notification


class NotificationSerializer(serializers.ModelSerializer):
    """One thing I was told."""

    actor = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Who did it."
    )
    incident = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The review it is about."
    )
    url = serializers.CharField(help_text="Where to look, on the web (a path).")
    unread = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "text", "url", "incident", "actor", "created_at", "read_at",
                  "unread"]  # fmt: skip
        read_only_fields = fields

    def get_unread(self, obj: Notification) -> bool:
        return obj.read_at is None


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications were marked read now.")


NOT_FOUND = documented_error(
    404,
    "not_found",
    "No Notification matches the given query.",
    "No such notification of yours.",
)


@extend_schema_view(
    list=extend_schema(
        summary="My notifications",
        description="Unread first, then newest first.",
        responses={200: NotificationSerializer(many=True), **LIST_ERRORS},
    ),
    read=extend_schema(
        summary="Mark one notification read",
        request=None,
        responses={200: NotificationSerializer, **ERRORS, 404: NOT_FOUND},
    ),
    read_all=extend_schema(
        summary="Mark all my notifications read",
        request=None,
        responses={200: MarkedSerializer, **{k: v for k, v in ERRORS.items() if k != 404}},
    ),
)
class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own notifications."""

    serializer_class = NotificationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Notification.objects.none()
        return services.inbox(self.request.user)

    def get_object(self) -> Notification:
        # Beyond the largest id a database integer holds, nothing exists (and SQLite would
        # overflow comparing it).
        pk = str(self.kwargs["pk"])
        if not pk.isdigit() or int(pk) > MAX_DB_INT:
            raise NotFound("No Notification matches the given query.")
        return super().get_object()

    @action(detail=True, methods=["post"])
    @idempotent
    def read(self, request, pk=None):
        note = self.get_object()
        services.mark_read(request.user, note.pk)
        note.refresh_from_db()
        return Response(NotificationSerializer(note).data)

    @action(detail=False, methods=["post"], url_path="read-all")
    @idempotent
    def read_all(self, request):
        return Response({"marked": services.mark_read(request.user)})
