"""API of the review workflow: where a review's reviewers stand, their decisions, publishing,
and the review's comment threads.

Every endpoint is under `/api/v1/incidents/{id}/`. A review the caller may not see does not
exist for them (404); what they may not do answers 403 with the rule; what cannot be done in
the review's present state (not in review, changed since read, not yet publishable) answers
409 saying why. POSTs need a write token and honour `Idempotency-Key`.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.schema import documented_error
from idempotency.api import idempotent
from incidents import permissions
from incidents.api.schema import ERRORS, LIST_ERRORS, READ_ERRORS
from incidents.api.serializers import StrictFieldsMixin
from incidents.bounds import MAX_DB_INT
from incidents.models import Comment, Incident
from incidents.services import (
    PublishBlocked,
    incident_publish,
    incident_request_review,
    missing_for_publication,
)

from . import gate, threads
from .models import ReviewDecision


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The review is not in a state that allows this."


NOT_FOUND = documented_error(404, "not_found", "No Incident matches the given query.",
                   "No such review, or not visible to you.")  # fmt: skip
DECISION_ERRORS = {
    **ERRORS,
    403: documented_error(403, "permission_denied", gate.DECIDE_REFUSED,
                "Not a named reviewer other than the author (or a read token)."),
    404: NOT_FOUND,
    409: documented_error(409, "conflict",
                "The review is at version 4, not 3: it changed since you read it. "
                "Read it again before you decide.",
                "Not in review, or changed since the version you sent."),
}  # fmt: skip
PUBLISH_ERRORS = {
    **ERRORS,
    403: documented_error(403, "permission_denied",
                "Only a named reviewer other than the author (or someone with the publish "
                "permission) may publish this review.",
                "You may not publish it (or a read token)."),
    404: NOT_FOUND,
    409: documented_error(409, "conflict", "Not published yet. Still missing: 1 more approval by a "
                "named reviewer other than the author (0 of 1 so far).",
                "Already published, or sections or approvals still missing."),
}  # fmt: skip
REQUEST_REVIEW_ERRORS = {
    **ERRORS,
    403: documented_error(403, "permission_denied", permissions.EDIT_REFUSED,
                "You may not send it for review (or a read token)."),
    404: NOT_FOUND,
    409: documented_error(409, "conflict",
                "This review is published. Send `reopen: true` to take it back to review "
                "(editors only).",
                "Published and `reopen` not given, or a section its template requires is "
                "empty (the sections are named)."),
}  # fmt: skip
THREAD_ERRORS = {
    **ERRORS,
    403: documented_error(403, "permission_denied", threads.RESOLVE_REFUSED,
                "You may not do this to the thread (or a read token)."),
    404: documented_error(404, "not_found", "No such thread on this review.",
                "No such review or thread, or not visible to you."),
}  # fmt: skip


# --- serializers -------------------------------------------------------------------------


class DecisionSerializer(serializers.ModelSerializer):
    """One decision of a named reviewer."""

    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ReviewDecision
        fields = ["id", "reviewer", "decision", "note", "version", "created_at"]
        read_only_fields = fields


class StandingSerializer(serializers.Serializer):
    """Where one named reviewer stands."""

    reviewer = serializers.CharField(help_text="The reviewer's username.")
    state = serializers.ChoiceField(
        choices=["author", "waiting", "approved", "stale", "changes_requested"],
        help_text="`author`: the review's author (cannot approve it); `stale`: approved an "
        "older version.",
    )
    decision = DecisionSerializer(allow_null=True, help_text="Their latest decision, if any.")


class ReviewStateSerializer(serializers.Serializer):
    """A review's place in the workflow: its reviewers, their decisions, and what publishing
    it still needs."""

    incident = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Incident.Status.choices)
    version = serializers.IntegerField()
    required_approvals = serializers.IntegerField()
    approvals = serializers.IntegerField(help_text="Current approvals that count.")
    publishable = serializers.BooleanField(help_text="True when nothing is missing.")
    still_needed = serializers.ListField(
        child=serializers.CharField(), help_text="Missing sections and approvals, in words."
    )
    reviewers = StandingSerializer(many=True)
    decisions = DecisionSerializer(many=True, help_text="Every decision, newest first.")


class ApproveSerializer(StrictFieldsMixin, serializers.Serializer):
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DB_INT,
        help_text="The version you reviewed; if the review changed since, 409.",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="",
                                 max_length=100_000, help_text="Markdown; optional.")  # fmt: skip


class RequestChangesSerializer(ApproveSerializer):
    note = serializers.CharField(max_length=100_000, help_text="Markdown: what should change.")


class RequestReviewSerializer(StrictFieldsMixin, serializers.Serializer):
    reviewers = serializers.ListField(
        child=serializers.CharField(max_length=150),
        min_length=1,
        max_length=50,
        help_text="Usernames of the people who review it; they replace the current ones.",
    )
    reopen = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Take a published review back to review (editors only).",
    )

    def validate_reviewers(self, names: list[str]) -> list:
        people = {
            u.get_username(): u
            for u in get_user_model().objects.filter(username__in=names, is_active=True)
        }
        unknown = sorted({n for n in names if n not in people})
        if unknown:
            raise serializers.ValidationError(
                "No active person is called " + ", ".join(unknown) + "."
            )
        if refused := sorted(n for n, u in people.items() if not permissions.may_review(u)):
            raise serializers.ValidationError(
                f"{', '.join(refused)} may not review: a reviewer needs the Reviewer or Admin role."
            )
        return [people[n] for n in dict.fromkeys(names)]


class ReplySerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Comment
        fields = ["id", "author", "body", "created_at"]
        read_only_fields = fields


class ThreadSerializer(serializers.ModelSerializer):
    """A thread: the comment that opened it (on a section, or on the whole review when
    `section` is blank), its replies, and whether it is resolved."""

    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    resolved_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    section = serializers.ChoiceField(choices=["", *threads.SECTIONS])
    replies = ReplySerializer(many=True, read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "section", "author", "body", "created_at", "resolved_at",
                  "resolved_by", "replies"]  # fmt: skip
        read_only_fields = fields


class ThreadStartSerializer(StrictFieldsMixin, serializers.Serializer):
    body = serializers.CharField(max_length=100_000, help_text="Markdown; `@username` tells them.")
    section = serializers.ChoiceField(
        choices=["", *threads.SECTIONS],
        required=False,
        default="",
        help_text="The section the thread is about; blank for the review as a whole.",
    )


class ThreadReplySerializer(StrictFieldsMixin, serializers.Serializer):
    body = serializers.CharField(max_length=100_000, help_text="Markdown; `@username` tells them.")


# --- helpers -----------------------------------------------------------------------------


def _incident(request, pk: int) -> Incident:
    if pk > MAX_DB_INT:
        raise NotFound("No Incident matches the given query.")
    incident = (
        Incident.objects.visible_to(request.user)
        .select_related("created_by")
        .prefetch_related("reviewers")
        .filter(pk=pk)
        .first()
    )
    if incident is None:
        raise NotFound("No Incident matches the given query.")
    return incident


def _state(incident: Incident) -> dict:
    incident = Incident.objects.prefetch_related("reviewers").get(pk=incident.pk)
    state = gate.review_state(incident)
    missing = missing_for_publication(incident)
    still_needed = [*missing, *state.reasons]
    decisions = ReviewDecision.objects.filter(incident=incident).select_related("reviewer")
    return ReviewStateSerializer(
        {
            "incident": incident.pk,
            "status": incident.status,
            "version": incident.version,
            "required_approvals": state.required,
            "approvals": state.approvals,
            "publishable": incident.status != Incident.Status.PUBLISHED and not still_needed,
            "still_needed": still_needed,
            "reviewers": [
                {"reviewer": s.reviewer.get_username(), "state": s.state, "decision": s.decision}
                for s in state.standings
            ],
            "decisions": decisions.order_by("-created_at", "-id")[:200],
        }
    ).data


def _threads(incident: Incident):
    return (
        Comment.objects.filter(incident=incident, parent__isnull=True)
        .select_related("author", "resolved_by")
        .prefetch_related(
            # Replies in the order they were written, each with its author.
            Prefetch(
                "replies", Comment.objects.select_related("author").order_by("created_at", "id")
            )
        )
        .order_by("created_at", "id")
    )


def _thread(request, pk: int, thread_pk: int) -> Comment:
    incident = _incident(request, pk)
    if thread_pk > MAX_DB_INT:
        raise NotFound("No such thread on this review.")
    thread = Comment.objects.filter(pk=thread_pk, incident=incident).first()
    if thread is None:
        raise NotFound("No such thread on this review.")
    thread.incident = incident
    return thread


def _thread_answer(thread: Comment, code: int = status.HTTP_200_OK) -> Response:
    opener_pk = thread.parent_id or thread.pk
    fresh = _threads(thread.incident).get(pk=opener_pk)
    return Response(ThreadSerializer(fresh).data, status=code)


# --- views -------------------------------------------------------------------------------


class ReviewStateView(APIView):
    """A review's reviewers, their decisions, and what publishing it still needs."""

    @extend_schema(
        summary="Where a review stands in review",
        description=(
            "Its named reviewers and each one's current decision (an approval of an older "
            "version is `stale`), every decision given, and what publishing still needs "
            "(sections and approvals, in words)."
        ),
        responses={200: ReviewStateSerializer, **READ_ERRORS, 404: NOT_FOUND},
    )
    def get(self, request, pk: int):
        return Response(_state(_incident(request, pk)))


class _DecisionView(APIView):
    decision = ""
    body_serializer = ApproveSerializer

    def post(self, request, pk: int):
        incident = _incident(request, pk)
        body = self.body_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        if not gate.can_decide(request.user, incident):
            raise PermissionDenied(gate.DECIDE_REFUSED)
        try:
            gate.decide(
                incident=incident,
                by=request.user,
                decision=self.decision,
                note=body.validated_data.get("note", ""),
                version=body.validated_data.get("version"),
            )
        except gate.DecisionRefused as refused:
            raise PermissionDenied(str(refused)) from refused
        except (gate.NotInReview, gate.ReviewChanged) as conflict:
            raise Conflict(str(conflict)) from conflict
        except ValueError as invalid:
            raise ValidationError({"note": [str(invalid)]}) from invalid
        return Response(_state(incident), status=status.HTTP_201_CREATED)


class ApproveView(_DecisionView):
    """A named reviewer approves the review."""

    decision = ReviewDecision.Decision.APPROVED
    body_serializer = ApproveSerializer

    @extend_schema(
        summary="Approve a review",
        description=(
            "For a named reviewer who is not the author, while the review is in review. "
            "Supersedes your earlier decision. Send `version` (the one you read) to be told "
            "with 409 if it changed since. Answers the review's state."
        ),
        request=ApproveSerializer,
        responses={201: ReviewStateSerializer, **DECISION_ERRORS},
    )
    @idempotent
    def post(self, request, pk: int):
        return super().post(request, pk)


class RequestChangesView(_DecisionView):
    """A named reviewer asks for changes."""

    decision = ReviewDecision.Decision.CHANGES_REQUESTED
    body_serializer = RequestChangesSerializer

    @extend_schema(
        summary="Ask for changes to a review",
        description=(
            "For a named reviewer who is not the author, while the review is in review; "
            "`note` says what should change (the author is told). Publishing waits until you "
            "approve. Answers the review's state."
        ),
        request=RequestChangesSerializer,
        responses={201: ReviewStateSerializer, **DECISION_ERRORS},
    )
    @idempotent
    def post(self, request, pk: int):
        return super().post(request, pk)


class RequestReviewView(APIView):
    """Send a review to named reviewers, as the web page's "Send for review" does."""

    @extend_schema(
        summary="Send a review for review",
        description=(
            "For whoever may edit the review. Names its reviewers (replacing the current "
            "ones), who are told. A published review goes back to review only for an editor "
            "who sends `reopen: true`. A section the review's template requires that is "
            "still empty answers 409 naming it."
        ),
        request=RequestReviewSerializer,
        responses={200: ReviewStateSerializer, **REQUEST_REVIEW_ERRORS},
    )
    @idempotent
    def post(self, request, pk: int):
        incident = _incident(request, pk)
        asked = RequestReviewSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        if not permissions.can_request_review(request.user, incident):
            if incident.status == Incident.Status.PUBLISHED:
                raise PermissionDenied(
                    "This review is published. Only an editor can take it back to review."
                )
            raise PermissionDenied(permissions.EDIT_REFUSED)
        if incident.status == Incident.Status.PUBLISHED and not asked.validated_data["reopen"]:
            raise Conflict(
                "This review is published. Send `reopen: true` to take it back to review."
            )
        incident_request_review(
            incident=incident, by=request.user, reviewers=asked.validated_data["reviewers"]
        )
        return Response(_state(incident))


class PublishView(APIView):
    """Publish a review whose sections and approvals are all there."""

    @extend_schema(
        summary="Publish a review",
        description=(
            "For a named reviewer other than the author, or a holder of the publish "
            "permission. Needs every required section and the approvals the settings ask "
            "for (see GET …/review/); otherwise 409 says what is missing."
        ),
        request=None,
        responses={200: ReviewStateSerializer, **PUBLISH_ERRORS},
    )
    @idempotent
    def post(self, request, pk: int):
        incident = _incident(request, pk)
        if incident.status == Incident.Status.PUBLISHED:
            raise Conflict("This review is already published.")
        if not permissions.can_publish(request.user, incident):
            raise PermissionDenied(
                "Only a named reviewer other than the author (or someone with the publish "
                "permission) may publish this review."
            )
        try:
            incident_publish(incident=incident, by=request.user)
        except PublishBlocked as blocked:
            missing = "; ".join(blocked.missing)
            raise Conflict(f"Not published yet. Still missing: {missing}.") from blocked
        return Response(_state(incident))


class ThreadListView(generics.GenericAPIView):
    """A review's comment threads, and opening a new one."""

    serializer_class = ThreadSerializer
    queryset = Comment.objects.none()  # for the schema; the threads are read in `get`

    @extend_schema(
        summary="A review's comment threads",
        description="Oldest first, each with its replies; `section` blank means the whole review.",
        responses={200: ThreadSerializer(many=True), **LIST_ERRORS, 404: NOT_FOUND},
    )
    def get(self, request, pk: int):
        incident = _incident(request, pk)
        page = self.paginate_queryset(_threads(incident))
        return self.get_paginated_response(ThreadSerializer(page, many=True).data)

    @extend_schema(
        summary="Open a comment thread",
        description=(
            "Any reader of the review may. The author, the named reviewers and anyone "
            "`@`-mentioned (who may see the review) are told."
        ),
        request=ThreadStartSerializer,
        responses={201: ThreadSerializer, **ERRORS, 404: NOT_FOUND},
    )
    @idempotent
    def post(self, request, pk: int):
        incident = _incident(request, pk)
        body = ThreadStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            comment = threads.thread_start(
                incident=incident,
                by=request.user,
                body=body.validated_data["body"],
                section=body.validated_data["section"],
            )
        except ValueError as invalid:
            raise ValidationError({"body": [str(invalid)]}) from invalid
        comment.incident = incident
        return _thread_answer(comment, status.HTTP_201_CREATED)


class ThreadReplyView(APIView):
    @extend_schema(
        summary="Reply to a comment thread",
        description="Any reader of the review may. The thread's participants are told.",
        request=ThreadReplySerializer,
        responses={201: ThreadSerializer, **THREAD_ERRORS},
    )
    @idempotent
    def post(self, request, pk: int, thread_pk: int):
        thread = _thread(request, pk, thread_pk)
        body = ThreadReplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            reply = threads.thread_reply(
                thread=thread, by=request.user, body=body.validated_data["body"]
            )
        except ValueError as invalid:
            raise ValidationError({"body": [str(invalid)]}) from invalid
        reply.incident = thread.incident
        return _thread_answer(reply, status.HTTP_201_CREATED)


class _ResolutionView(APIView):
    resolve = True

    def post(self, request, pk: int, thread_pk: int):
        thread = _thread(request, pk, thread_pk)
        try:
            if self.resolve:
                thread = threads.thread_resolve(thread=thread, by=request.user)
            else:
                thread = threads.thread_reopen(thread=thread, by=request.user)
        except threads.ThreadRefused as refused:
            raise PermissionDenied(str(refused)) from refused
        return _thread_answer(thread)


class ThreadResolveView(_ResolutionView):
    resolve = True

    @extend_schema(
        summary="Resolve a comment thread",
        description=(
            "For the review's author, its named reviewers, editors and the thread's opener. "
            "Resolving a resolved thread changes nothing."
        ),
        request=None,
        responses={200: ThreadSerializer, **THREAD_ERRORS},
    )
    @idempotent
    def post(self, request, pk: int, thread_pk: int):
        return super().post(request, pk, thread_pk)


class ThreadReopenView(_ResolutionView):
    resolve = False

    @extend_schema(
        summary="Reopen a resolved comment thread",
        description="For whoever may resolve it. Reopening an open thread changes nothing.",
        request=None,
        responses={200: ThreadSerializer, **THREAD_ERRORS},
    )
    @idempotent
    def post(self, request, pk: int, thread_pk: int):
        return super().post(request, pk, thread_pk)
