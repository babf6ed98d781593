"""API v1 endpoints: thin viewsets over selectors, serializers and services."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.conditional import ConditionalRetrieveMixin
from idempotency.api import idempotent
from incidents.bounds import InvalidInput, bounded_int
from incidents.models import ActionItem, Incident, PatternLink
from incidents.permissions import CREATE_REFUSED, can_create, visible_components
from incidents.services import (
    ActionEntry,
    ConcurrentEditError,
    TimelineEntry,
    incident_create,
    incident_patch,
)
from similarity.questions import similar_to_review, similar_to_text

from .filters import IncidentFilter
from .pagination import IncidentCursorPagination, RankedPagination
from .recurrence_views import RecurrenceViewSet  # noqa: F401 (the router's import)
from .rows import incident_rows, list_values, list_values_in_order
from .schema import ERRORS, LIST_ERRORS, READ_ERRORS, read_only_schema
from .serializers import (
    ActionItemsAppendSerializer,
    ComponentSerializer,
    ErrorSerializer,
    IncidentCreateSerializer,
    IncidentDetailSerializer,
    IncidentPatchSerializer,
    IncidentSerializer,
    SimilarRequestSerializer,
    SimilarResultSerializer,
    TimelineAppendSerializer,
)

PATTERN_BODY = ("pattern__entry", "pattern__definition", "pattern__summary", "pattern__aliases")


def _incidents_for(request):
    """The incidents this request may see, with everything a list row shows prefetched."""
    return (
        Incident.objects.visible_to(request.user)
        .prefetch_related(
            "shapes",
            "components",
            # Lists show a pattern's slug and name only: leave its long catalogue entry
            # (several KB of JSON per row to decode) in the database.
            Prefetch(
                "pattern_links",
                PatternLink.objects.select_related("pattern").defer(*PATTERN_BODY),
            ),
            # One query for the items with their level and pattern joined, not three.
            Prefetch(
                "action_items",
                ActionItem.objects.select_related(
                    "leverage_level", "pattern", "owner_user", "owner_team", "closed_by"
                )
                .defer(*PATTERN_BODY)
                .order_by("id"),
            ),
        )
        .order_by("-started_at", "-id")
    )


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The review changed since you read it."


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"
    default_detail = "If-Match does not match the stored version."


@extend_schema_view(
    list=extend_schema(
        summary="List incidents",
        description=(
            "Newest first, with cursor pagination (follow `next`; pages stay stable while "
            "incidents are added). With `q`, results are ranked by relevance and paginated "
            "by page number instead (`page=2`, …; follow `next`)."
        ),
        parameters=[
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 1},
                description="With `q` only: the page of ranked results, from 1.",
            )
        ],
        responses={200: IncidentSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One incident with its whole review",
        description="Sends an `ETag`; `If-None-Match` with it answers 304 when unchanged.",
        responses={200: IncidentDetailSerializer, 304: None, **READ_ERRORS, 404: ERRORS[404]},
    ),
    create=extend_schema(
        summary="Open a draft review",
        request=IncidentCreateSerializer,
        responses={201: IncidentDetailSerializer, **ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change parts of a review",
        description=(
            "Only the fields sent change. Send `version` (or `If-Match` with the ETag) to be "
            "told, with 409 (or 412), when someone else saved in between."
        ),
        request=IncidentPatchSerializer,
        responses={
            200: IncidentDetailSerializer,
            409: OpenApiResponse(ErrorSerializer, description="Changed since you read it."),
            412: OpenApiResponse(ErrorSerializer, description="If-Match did not match."),
            **ERRORS,
        },
    ),
    similar=extend_schema(
        summary="Incidents similar to this one, and its likely patterns",
        parameters=[
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 50},
                description="1–50, default 5.",
            ),
            OpenApiParameter(
                "scope",
                {"type": "string", "enum": ["anywhere", "organisation"]},
                description="`anywhere` (default), or `organisation`: only this review's "
                "own organisation (has this happened to us before?).",
            ),
        ],
        responses={200: SimilarResultSerializer, **READ_ERRORS, 404: ERRORS[404]},
    ),
    timeline=extend_schema(
        summary="Append timeline events",
        request=TimelineAppendSerializer,
        responses={201: IncidentDetailSerializer, **ERRORS},
    ),
    action_items=extend_schema(
        summary="Add action items",
        request=ActionItemsAppendSerializer,
        responses={201: IncidentDetailSerializer, **ERRORS},
    ),
)
class IncidentViewSet(
    ConditionalRetrieveMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Incidents visible to the token's user; restricted ones appear only to their group."""

    filterset_class = IncidentFilter
    # What the schema documents; `paginator` switches to page numbers for ranked `q` results.
    pagination_class = IncidentCursorPagination
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if self.action == "list":
            # Rows are built from bare columns by `incident_rows`; nothing to prefetch.
            return list_values(Incident.objects.visible_to(self.request.user)).order_by(
                "-started_at", "-id"
            )
        return (
            _incidents_for(self.request)
            .prefetch_related("timeline", "contributing_factors")
            .select_related("template")
        )

    def list(self, request, *args, **kwargs):
        incidents = self.filter_queryset(self.get_queryset())
        if isinstance(self.paginator, RankedPagination):
            # Rank ids only, then read the columns of the page (see list_values_in_order).
            ids = self.paginate_queryset(incidents.values_list("pk", flat=True))
            page = list_values_in_order(ids, Incident.objects.visible_to(request.user))
        else:
            page = self.paginate_queryset(incidents)
        return self.get_paginated_response(incident_rows(page, request))

    @property
    def paginator(self):
        if not hasattr(self, "_paginator"):
            ranked = self.action == "list" and self.request.query_params.get("q")
            self._paginator = RankedPagination() if ranked else IncidentCursorPagination()
        return self._paginator

    def filter_queryset(self, queryset):
        # Without any filter parameter the filter set would only build and validate an
        # empty form: a millisecond per request on the busiest endpoint.
        if set(self.request.query_params) & set(IncidentFilter.base_filters):
            queryset = super().filter_queryset(queryset)
        if self.action == "list" and not self.request.query_params.get("q"):
            queryset = queryset.order_by("-id")
        return queryset

    def get_serializer_class(self):
        if self.action == "create":
            return IncidentCreateSerializer
        if self.action == "list":
            return IncidentSerializer
        return IncidentDetailSerializer

    def etag_for(self, obj: Incident) -> str:
        analysed = obj.analysed_at.timestamp() if obj.analysed_at else 0
        return f"incident-{obj.pk}-v{obj.version}-{analysed:.6f}"

    def _detail(self, incident: Incident, code: int = 200) -> Response:
        fresh = self.get_queryset().get(pk=incident.pk)
        body = IncidentDetailSerializer(fresh, context=self.get_serializer_context()).data
        headers = {"ETag": f'"{self.etag_for(fresh)}"'}
        if code == status.HTTP_201_CREATED:
            # A plain str: the serializer's Hyperlink is a subclass, which WSGI servers that
            # check header types strictly (Django's runserver) refuse with a 500.
            headers["Location"] = str(body["url"])
        return Response(body, status=code, headers=headers)

    @idempotent
    def create(self, request, *args, **kwargs):
        if not can_create(request.user):
            raise PermissionDenied(CREATE_REFUSED)
        serializer = IncidentCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        incident = incident_create(by=request.user, content=serializer.to_content())
        return self._detail(incident, status.HTTP_201_CREATED)

    def _expected_version(self, incident: Incident, sent: int | None) -> int | None:
        """The version the write must still find once it holds the review's lock.

        `If-Match` is compared here with the ETag read before the lock (a cheap early 412),
        then again as a version under the lock by the service: two writes sent with the
        same ETag cannot both pass.
        """
        if_match = request_if_match(self.request)
        if if_match is None or if_match == "*":
            return sent
        if if_match != f'"{self.etag_for(incident)}"':
            raise PreconditionFailed()
        self._if_match_version = incident.version
        return incident.version if sent is None else sent

    def _patch(self, incident: Incident, **changes) -> Response:
        try:
            incident_patch(
                incident=incident, by=self.request.user, note="Changed through the API", **changes
            )
        except ConcurrentEditError as conflict:
            raise self._conflict(conflict.incident.version, conflict.expected_version) from conflict
        return incident

    def _conflict(self, current: int, expected: int) -> APIException:
        if expected == getattr(self, "_if_match_version", None):
            return PreconditionFailed()
        return Conflict(
            f"The review is at version {current}, not {expected}: read it again and reapply "
            "your change."
        )

    def partial_update(self, request, *args, **kwargs):
        incident = self.get_object()
        patch = IncidentPatchSerializer(data=request.data)
        patch.is_valid(raise_exception=True)
        expected = self._expected_version(incident, patch.validated_data.get("version"))
        changes = patch.changes()
        if changes == {"fields": {}}:
            # An empty merge patch changes nothing: no new version, no revision; a stale
            # `version` is still told, as it would be with a change.
            if expected is not None and expected != incident.version:
                raise self._conflict(incident.version, expected)
            return self._detail(incident)
        self._patch(incident, expected_version=expected, **changes)
        return self._detail(incident)

    @action(detail=True, methods=["post"])
    @idempotent
    def timeline(self, request, pk=None):
        incident = self.get_object()
        append = TimelineAppendSerializer(data=request.data)
        append.is_valid(raise_exception=True)
        events = [TimelineEntry(**e) for e in append.validated_data["events"]]
        self._patch(
            incident, add_timeline=events, expected_version=self._expected_version(incident, None)
        )
        return self._detail(incident, status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], url_path="action-items")
    @idempotent
    def action_items(self, request, pk=None):
        incident = self.get_object()
        # The request says whose teams may be named as owners.
        append = ActionItemsAppendSerializer(data=request.data, context={"request": request})
        append.is_valid(raise_exception=True)
        items = [ActionEntry(**a) for a in append.validated_data["action_items"]]
        self._patch(
            incident, add_actions=items, expected_version=self._expected_version(incident, None)
        )
        return self._detail(incident, status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"])
    def similar(self, request, pk=None):
        incident = self.get_object()
        limit = _limit(request.query_params.get("limit"))
        scope = _scope(request.query_params.get("scope"))
        answer = similar_to_review(user=request.user, incident=incident, scope=scope, limit=limit)
        return Response(_answer(answer, scope, request))


def request_if_match(request) -> str | None:
    value = request.headers.get("If-Match")
    return value.strip().removeprefix("W/") if value else None


@extend_schema_view(**read_only_schema("Components", ComponentSerializer))
class ComponentViewSet(viewsets.ReadOnlyModelViewSet):
    """Components, what they depend on and what depends on them, with how many incidents
    (that you may see) involved them."""

    serializer_class = ComponentSerializer
    lookup_field = "slug"

    def get_queryset(self):
        visible = Incident.objects.visible_to(self.request.user)
        # Not every component: one that only restricted reviews use is their content.
        components = (
            visible_components(self.request.user)
            .annotate(
                visible_incidents=Count("incidents", filter=Q(incidents__in=visible), distinct=True)
            )
            .prefetch_related(
                Prefetch("depends_on", visible_components(self.request.user)),
                Prefetch("dependents", visible_components(self.request.user)),
            )
        )
        name = self.request.query_params.get("q")
        if name:
            components = components.filter(name__icontains=name[:100])
        return components.order_by("name", "id")

    @extend_schema(parameters=[OpenApiParameter("q", str, description="Words in the name.")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


def _limit(raw: str | None) -> int:
    """The `limit` query parameter: 1 to 50, 5 when absent; anything else answers 400."""
    if raw is None:
        return 5
    try:
        return bounded_int(raw, name="limit", minimum=1, maximum=50)
    except InvalidInput as exc:
        raise ValidationError({"limit": [str(exc)]}) from exc


def _scope(raw: str | None) -> str:
    """The `scope` query parameter: `anywhere` (default) or `organisation`; else 400."""
    if raw is None:
        return "anywhere"
    if raw not in ("anywhere", "organisation"):
        raise ValidationError({"scope": ["Use `anywhere` or `organisation`."]})
    return raw


def _answer(answer, scope: str, request) -> dict:
    data = {
        "incidents": answer.results,
        "patterns": [_pattern(p) for p in answer.patterns],
        "scope": scope,
        "confidence": {"level": answer.confidence, "score": answer.score},
        "confident_match": answer.confident_match,
    }
    return SimilarResultSerializer(data, context={"request": request}).data


def _pattern(p) -> dict:
    return {
        "slug": p.slug,
        "name": p.name,
        "score": p.score,
        "matched": p.matched,
        "shown_by": p.shown_by,
        "why": p.why,
    }


class SimilarView(APIView):
    """POST free text; get similar past incidents and likely patterns, with explanations."""

    post_is_read = True  # a read token may ask

    @extend_schema(
        summary="Have we seen this before?",
        request=SimilarRequestSerializer,
        responses={200: SimilarResultSerializer, **ERRORS},
    )
    @idempotent
    def post(self, request):
        question = SimilarRequestSerializer(data=request.data)
        question.is_valid(raise_exception=True)
        asked = question.validated_data
        answer = similar_to_text(
            user=request.user,
            text=asked["text"],
            scope=asked["scope"],
            organisation=asked["organisation"],
            limit=asked["limit"],
        )
        return Response(_answer(answer, asked["scope"], request))
