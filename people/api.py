"""API of the people app: who has an account (admins only), and who am I (everyone).

`GET /api/v1/people/` and `/api/v1/people/{id}/` answer 403 to anyone who may not manage
people; `GET /api/v1/people/me/` answers everyone with their own account, role and teams.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Prefetch
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from common.api.schema import documented_error
from incidents.api.schema import LIST_ERRORS, READ_ERRORS
from incidents.bounds import MAX_DB_INT

from .models import Role
from .roles import MANAGE_REFUSED, can_manage_people, role_from_group_names


class PersonSerializer(serializers.ModelSerializer):
    """Someone with an account in Seams."""

    name = serializers.SerializerMethodField(help_text="Full name; empty when not known.")
    # Not `format: email`: an account made in the admin may have none (an empty string).
    email = serializers.CharField(read_only=True, help_text="E-mail address; may be empty.")
    role = serializers.SerializerMethodField(
        help_text="What they may do; null for no role (they read and comment)."
    )
    teams = serializers.SerializerMethodField(
        help_text="Names of their teams (restricted reviews of these are visible to them)."
    )

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "name", "email", "role", "teams", "is_active",
                  "is_superuser", "last_login", "date_joined"]  # fmt: skip
        read_only_fields = fields

    def get_name(self, obj) -> str:
        return obj.get_full_name()

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices, allow_null=True))
    def get_role(self, obj) -> str | None:
        role = role_from_group_names(group.name for group in obj.groups.all())
        return role.value if role is not None else None

    def get_teams(self, obj) -> list[str]:
        return [
            group.name for group in obj.groups.all() if role_from_group_names([group.name]) is None
        ]


def _refused(description: str) -> OpenApiResponse:
    return documented_error(403, "permission_denied", MANAGE_REFUSED, description)


ADMINS_ONLY = _refused("You may not manage people (only admins of Seams may list them).")
NOT_FOUND = documented_error(
    404, "not_found", "No User matches the given query.", "Nobody with this id."
)
EXAMPLE_PERSON = {
    "id": 7, "username": "alex", "name": "Alex Example", "email": "alex@example.com",
    "role": "author", "teams": ["security"], "is_active": True, "is_superuser": False,
    "last_login": "2026-11-20T08:00:00Z", "date_joined": "2026-01-05T09:30:00Z",
}  # fmt: skip


class ManagePeople(permissions.BasePermission):
    """Listing people is for admins; `me` is for everyone."""

    message = MANAGE_REFUSED

    def has_permission(self, request, view) -> bool:
        return view.action == "me" or can_manage_people(request.user)


@extend_schema_view(
    list=extend_schema(
        summary="People",
        description=(
            "Everyone with an account, by username, with their role and teams. Admins only "
            "(the Admin role, or a superuser)."
        ),
        responses={200: PersonSerializer(many=True), **LIST_ERRORS, 403: ADMINS_ONLY},
        examples=[OpenApiExample("A person", value=EXAMPLE_PERSON, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One person",
        description="Admins only.",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="Their id.")],
        responses={200: PersonSerializer, **READ_ERRORS, 403: ADMINS_ONLY, 404: NOT_FOUND},
    ),
    me=extend_schema(
        summary="Me",
        description="The account the request acts as (a token acts as its user).",
        responses={200: PersonSerializer, **READ_ERRORS},
        examples=[OpenApiExample("Me", value=EXAMPLE_PERSON, response_only=True)],
    ),
)
class PeopleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """People with accounts in Seams."""

    serializer_class = PersonSerializer
    # For the schema (an integer id); requests use get_queryset.
    queryset = get_user_model().objects.none()
    lookup_value_regex = "[0-9]+"

    def get_permissions(self):
        return [*super().get_permissions(), ManagePeople()]

    def get_queryset(self):
        return (
            get_user_model()
            .objects.prefetch_related(Prefetch("groups", queryset=Group.objects.order_by("name")))
            .order_by("username", "pk")
        )

    def get_object(self):
        # Beyond the largest id a database integer holds, nobody exists (and SQLite would
        # overflow comparing it).
        if int(self.kwargs["pk"]) > MAX_DB_INT:
            raise NotFound("No User matches the given query.")
        return super().get_object()

    @action(detail=False, methods=["get"])
    def me(self, request):
        person = self.get_queryset().get(pk=request.user.pk)
        return Response(PersonSerializer(person, context=self.get_serializer_context()).data)
