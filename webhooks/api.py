"""API for webhooks, for admin tokens: endpoints (list, create, read, change, delete, rotate
the secret, ping) and deliveries (list, read, redeliver), under /api/v1/webhooks/.

Only admins of Seams (the Admin role, or staff) may use it; changes need a write token. A
delivery's payload is shown only to a caller who may see the review it is about.
"""

from __future__ import annotations

import re

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response

from common.api.schema import ERRORS, LIST_ERRORS, READ_ERRORS, documented_error
from idempotency.api import idempotent
from incidents.api.serializers import StrictFieldsMixin
from incidents.bounds import MAX_DB_INT

from . import selectors, services
from .models import SUBSCRIBABLE, Delivery, DeliveryAttempt, Endpoint
from .permissions import MANAGE_REFUSED, can_manage_webhooks, may_read, visible_groups


class ManageWebhooks(permissions.BasePermission):
    """Admins and staff only."""

    message = MANAGE_REFUSED

    def has_permission(self, request, view) -> bool:
        return can_manage_webhooks(request.user)


class EndpointSerializer(serializers.ModelSerializer):
    """A webhook endpoint (its secret is never shown here)."""

    events = serializers.ListField(
        child=serializers.ChoiceField(choices=[c.value for c in SUBSCRIBABLE]),
        help_text="The event types it is sent.",
    )
    scope = serializers.SlugRelatedField(
        slug_field="name",
        many=True,
        read_only=True,
        help_text="The teams whose restricted reviews it may receive.",
    )

    class Meta:
        model = Endpoint
        fields = [
            "id", "url", "description", "events", "scope", "is_active", "disabled_at",
            "disabled_reason", "consecutive_failures", "failing_since", "last_success_at",
            "secret_rotated_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class EndpointCreatedSerializer(EndpointSerializer):
    """A new endpoint with its signing secret (shown this once)."""

    secret = serializers.CharField(help_text="The signing secret; it is not shown again.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret; it is not shown again.")


class StrictBooleanField(serializers.BooleanField):
    """true or false only: the schema says boolean, so 0, 1 or "yes" are refused."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class EndpointInputSerializer(StrictFieldsMixin, serializers.Serializer):
    url = serializers.URLField(max_length=500, help_text="An http or https address.")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=[c.value for c in SUBSCRIBABLE]),
        min_length=1,
        max_length=len(SUBSCRIBABLE),
    )
    scope = serializers.ListField(
        child=serializers.CharField(max_length=150),
        required=False,
        max_length=100,
        help_text="Team names: only teams you belong to (superusers: any).",
    )
    is_active = StrictBooleanField(
        required=False, help_text="false switches it off; true switches it on again."
    )

    def validate_url(self, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Use an http or https address.")
        return value

    def validate_scope(self, names: list[str]) -> list[Group]:
        groups = list(Group.objects.filter(name__in=names))
        if missing := sorted(set(names) - {group.name for group in groups}):
            raise serializers.ValidationError(f"No team named {missing[0]!r}.")
        return groups


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number", "started_at", "duration_ms", "status_code", "ok", "error", "next_delay",
        ]  # fmt: skip
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    """One delivery of an event to an endpoint, with its attempts."""

    id = serializers.IntegerField(read_only=True)
    delivery_id = serializers.UUIDField(
        source="uid", read_only=True, help_text="The Seams-Delivery header."
    )
    endpoint = serializers.IntegerField(source="endpoint_id", read_only=True)
    event_id = serializers.UUIDField(read_only=True, help_text="The same on every redelivery.")
    event_type = serializers.CharField(source="event.type", read_only=True)
    about = serializers.SerializerMethodField()
    payload = serializers.SerializerMethodField(
        help_text="The body sent; null when it is about a restricted review you may not see."
    )
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id", "delivery_id", "endpoint", "event_id", "event_type", "sequence", "state",
            "attempts", "next_attempt_at", "deferrals", "last_status_code", "created_at",
            "delivered_at", "about", "payload", "attempt_log",
        ]  # fmt: skip
        read_only_fields = fields

    def get_about(self, obj: Delivery) -> str:
        return selectors.subject(obj.event, self.context["groups"])

    def get_payload(self, obj: Delivery) -> dict | None:
        return obj.event.payload if may_read(obj.event, self.context["groups"]) else None


REFUSED = documented_error(
    403, "permission_denied", MANAGE_REFUSED, "Not an admin, or a read token for a change."
)
ENDPOINT_404 = documented_error(
    404, "not_found", "No Endpoint matches the given query.", "No such endpoint."
)
DELIVERY_404 = documented_error(
    404, "not_found", "No Delivery matches the given query.", "No such delivery."
)
REFUSED_CHANGE = documented_error(
    400,
    "invalid",
    "The request has invalid fields; see `fields`.",
    "Invalid input, or a change refused (e.g. a team you are not in, or an endpoint that is "
    "switched off); see `error.fields`.",
    {"scope": ["You may scope an endpoint only to teams you belong to; not to security."]},
)
EXAMPLE_INPUT = {
    "url": "https://hooks.example.com/seams",
    "description": "Incident channel bot",
    "events": ["review.published", "structure.recurred"],
    "scope": [],
}
ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Its id.")


def _refusal(error: Exception) -> ApiValidationError:
    """A service's refusal as the API's 400."""
    if isinstance(error, DjangoValidationError) and hasattr(error, "error_dict"):
        return ApiValidationError(error.message_dict)
    if isinstance(error, DjangoValidationError):
        return ApiValidationError({"non_field_errors": error.messages})
    field = "scope" if "scope" in str(error) or "teams" in str(error) else "non_field_errors"
    return ApiValidationError({field: [str(error)]})


SEALED_REPLAY = (
    " A retry with the same `Idempotency-Key` gets this same answer, secret included (Seams "
    "keeps it encrypted for the 24 hours a key is remembered), and changes nothing; if the "
    "encryption key it was kept with has been removed since, the retry answers 409 "
    "`idempotency_answer_unreadable`."
)


class _ByIntegerId:
    """Look rows up by an integer id that fits the database (beyond it: 404, not a 500)."""

    lookup_value_regex = "[0-9]+"

    def get_object(self):
        if int(self.kwargs["pk"]) > MAX_DB_INT:
            raise NotFound(f"No {self.queryset.model.__name__} matches the given query.")
        return super().get_object()


@extend_schema_view(
    list=extend_schema(
        summary="Webhook endpoints",
        description="Every endpoint, by address. Admins only.",
        responses={200: EndpointSerializer(many=True), **LIST_ERRORS, 403: REFUSED},
    ),
    retrieve=extend_schema(
        summary="One webhook endpoint",
        parameters=[ID],
        responses={200: EndpointSerializer, **READ_ERRORS, 403: REFUSED, 404: ENDPOINT_404},
    ),
    create=extend_schema(
        summary="Create a webhook endpoint",
        description=(
            "A new endpoint; the answer carries its signing secret, shown this once. `scope` "
            "names the teams whose restricted reviews it may receive (teams you belong to); "
            "an unknown team, or one you are not in, answers 400 naming `scope`." + SEALED_REPLAY
        ),
        request=EndpointInputSerializer,
        responses={201: EndpointCreatedSerializer, **ERRORS, 400: REFUSED_CHANGE, 403: REFUSED},
        examples=[OpenApiExample("New endpoint", value=EXAMPLE_INPUT, request_only=True)],
    ),
    update=extend_schema(
        summary="Change a webhook endpoint",
        parameters=[ID],
        request=EndpointInputSerializer,
        responses={
            200: EndpointSerializer,
            **ERRORS,
            400: REFUSED_CHANGE,
            403: REFUSED,
            404: ENDPOINT_404,
        },
    ),
    partial_update=extend_schema(
        summary="Change part of a webhook endpoint",
        description='E.g. `{"is_active": true}` switches a switched-off endpoint on again.',
        parameters=[ID],
        request=EndpointInputSerializer(partial=True),
        responses={
            200: EndpointSerializer,
            **ERRORS,
            400: REFUSED_CHANGE,
            403: REFUSED,
            404: ENDPOINT_404,
        },
    ),
    destroy=extend_schema(
        summary="Delete a webhook endpoint",
        description="With its deliveries and their log.",
        parameters=[ID],
        responses={
            204: OpenApiResponse(description="Deleted."),
            **READ_ERRORS,
            403: REFUSED,
            404: ENDPOINT_404,
        },
    ),
    rotate_secret=extend_schema(
        summary="Rotate an endpoint's signing secret",
        description=(
            "A new secret, shown this once; deliveries are signed with it from now on."
            + SEALED_REPLAY
        ),
        parameters=[ID],
        request=None,
        responses={200: SecretSerializer, **READ_ERRORS, 403: REFUSED, 404: ENDPOINT_404},
    ),
    ping=extend_schema(
        summary="Send a test ping",
        description="Queue a `ping` event to this endpoint only; see it in its deliveries.",
        parameters=[ID],
        request=None,
        responses={
            202: DeliverySerializer,
            **READ_ERRORS,
            400: REFUSED_CHANGE,
            403: REFUSED,
            404: ENDPOINT_404,
        },
    ),
)
class EndpointViewSet(_ByIntegerId, viewsets.ModelViewSet):
    """Webhook endpoints (admins only)."""

    serializer_class = EndpointSerializer
    queryset = Endpoint.objects.none()  # for the schema; requests use get_queryset

    def get_permissions(self):
        return [*super().get_permissions(), ManageWebhooks()]

    def get_queryset(self):
        # The secret is decrypted only to sign a delivery.
        return Endpoint.objects.prefetch_related("scope").defer("secret").order_by("url", "pk")

    def _input(self, partial: bool) -> dict:
        body = EndpointInputSerializer(data=self.request.data, partial=partial)
        body.is_valid(raise_exception=True)
        return body.validated_data

    @idempotent(sealed=True)
    def create(self, request, *args, **kwargs):
        data = self._input(partial=False)
        try:
            created = services.endpoint_create(
                url=data["url"],
                description=data.get("description", ""),
                event_types=data["events"],
                scope=data.get("scope", []),
                is_active=data.get("is_active", True),
                by=request.user,
            )
        except (services.WebhookError, DjangoValidationError) as error:
            raise _refusal(error) from error
        endpoint = self.get_queryset().get(pk=created.endpoint.pk)
        body = EndpointCreatedSerializer(endpoint, context=self.get_serializer_context()).data
        return Response({**body, "secret": created.secret}, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        endpoint = self.get_object()
        data = self._input(partial=partial)
        try:
            services.endpoint_update(
                endpoint=endpoint,
                by=request.user,
                url=data.get("url"),
                description=data.get("description"),
                event_types=data.get("events"),
                scope=data.get("scope"),
            )
            if data.get("is_active") is True and not endpoint.is_active:
                services.endpoint_enable(endpoint=endpoint)
            elif data.get("is_active") is False and endpoint.is_active:
                services.endpoint_disable(endpoint=endpoint)
        except (services.WebhookError, DjangoValidationError) as error:
            raise _refusal(error) from error
        return Response(self.get_serializer(self.get_queryset().get(pk=endpoint.pk)).data)

    def perform_destroy(self, instance: Endpoint) -> None:
        services.endpoint_delete(endpoint=instance)

    @action(detail=True, methods=["post"], url_path="rotate-secret")
    @idempotent(sealed=True)
    def rotate_secret(self, request, pk=None):
        secret = services.endpoint_rotate_secret(endpoint=self.get_object())
        return Response({"secret": secret})

    @action(detail=True, methods=["post"])
    @idempotent
    def ping(self, request, pk=None):
        endpoint = self.get_object()
        try:
            event = services.send_ping(endpoint=endpoint, by=request.user)
        except services.WebhookError as error:
            raise ApiValidationError({"non_field_errors": [str(error)]}) from error
        delivery = selectors.deliveries(endpoint).get(event=event)
        context = {**self.get_serializer_context(), "groups": visible_groups(request.user)}
        return Response(
            DeliverySerializer(delivery, context=context).data, status=status.HTTP_202_ACCEPTED
        )


@extend_schema_view(
    list=extend_schema(
        summary="Webhook deliveries",
        description=(
            "Deliveries newest first, with each attempt's response code, duration, error and "
            "the delay drawn before the next try. `endpoint` filters by endpoint id."
        ),
        parameters=[OpenApiParameter("endpoint", int, description="An endpoint's id.")],
        responses={200: DeliverySerializer(many=True), **LIST_ERRORS, 403: REFUSED},
    ),
    retrieve=extend_schema(
        summary="One webhook delivery",
        parameters=[ID],
        responses={200: DeliverySerializer, **READ_ERRORS, 403: REFUSED, 404: DELIVERY_404},
    ),
    redeliver=extend_schema(
        summary="Redeliver",
        description=(
            "Send the delivery's event to its endpoint again: a new delivery (new "
            "`delivery_id`) of the same event (same `event_id` and body)."
        ),
        parameters=[ID],
        request=None,
        responses={
            202: DeliverySerializer,
            **READ_ERRORS,
            400: REFUSED_CHANGE,
            403: REFUSED,
            404: DELIVERY_404,
        },
    ),
)
class DeliveryViewSet(
    _ByIntegerId, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Webhook deliveries and their attempts (admins only)."""

    serializer_class = DeliverySerializer
    queryset = Delivery.objects.none()  # for the schema; requests use get_queryset

    def get_permissions(self):
        return [*super().get_permissions(), ManageWebhooks()]

    def get_queryset(self):
        rows = selectors.deliveries()
        endpoint = self.request.query_params.get("endpoint")
        if endpoint is not None:
            if not re.fullmatch(r"-?[0-9]+", endpoint):
                raise ApiValidationError({"endpoint": ["An endpoint's id (a whole number)."]})
            number = int(endpoint)
            # Beyond what a database integer holds, no endpoint has that id.
            rows = rows.filter(endpoint_id=number) if 0 < number <= MAX_DB_INT else rows.none()
        return rows

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "groups": visible_groups(self.request.user)}

    @action(detail=True, methods=["post"])
    @idempotent
    def redeliver(self, request, pk=None):
        delivery = self.get_object()
        try:
            again = services.redeliver(delivery=delivery, by=request.user)
        except services.WebhookError as error:
            raise ApiValidationError({"non_field_errors": [str(error)]}) from error
        fresh = selectors.deliveries().get(pk=again.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_202_ACCEPTED)
