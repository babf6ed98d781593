"""Web pages of the review workflow: decisions on a review and its comment threads.

Thin: each view finds what the reader may see (404 otherwise), asks `reviewflow.gate` or
`reviewflow.threads`, and goes back to the review page with a message saying what happened.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from incidents.bounds import CONTROL_CHARACTERS, InvalidInput, bounded_int
from incidents.models import Comment, Incident

from . import gate, threads
from .models import ReviewDecision

# The comment form keeps a refused comment's text in the session under this key (the review
# page puts it back in the form), so a comment refused for its length is not lost.
COMMENT_DRAFT = "comment_draft"


def _incident(request: HttpRequest, pk: int) -> Incident:
    return get_object_or_404(Incident.objects.visible_to(request.user), pk=pk)


def _thread(request: HttpRequest, pk: int, thread_pk: int) -> Comment:
    incident = _incident(request, pk)
    return get_object_or_404(
        Comment.objects.select_related("incident"), pk=thread_pk, incident=incident
    )


def _panel(incident: Incident) -> HttpResponse:
    return redirect(f"{incident.get_absolute_url()}#review-panel")


def _decide(request: HttpRequest, pk: int, decision: str, done: str) -> HttpResponse:
    incident = _incident(request, pk)
    try:
        version = bounded_int(request.POST.get("version", incident.version), name="version")
    except InvalidInput as exc:
        return HttpResponseBadRequest(f"{exc} Send the version of the review you read.")
    try:
        gate.decide(
            incident=incident,
            by=request.user,
            decision=decision,
            note=request.POST.get("note", ""),
            version=version,
        )
    except gate.DecisionRefused as refused:
        raise PermissionDenied(str(refused)) from refused
    except (gate.NotInReview, gate.ReviewChanged, ValueError) as problem:
        messages.error(request, str(problem))
        return _panel(incident)
    messages.success(request, done)
    return _panel(incident)


@login_required
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    """A named reviewer approves the version of the review they read."""
    return _decide(request, pk, ReviewDecision.Decision.APPROVED, "Approved.")


@login_required
@require_POST
def request_changes(request: HttpRequest, pk: int) -> HttpResponse:
    """A named reviewer asks for changes, saying which in a note."""
    return _decide(
        request,
        pk,
        ReviewDecision.Decision.CHANGES_REQUESTED,
        "Changes requested; the author has been told.",
    )


def _refused_comment(request: HttpRequest, incident: Incident, body: str, error: str):
    request.session[COMMENT_DRAFT] = {
        "incident": incident.pk,
        "body": CONTROL_CHARACTERS.sub("", body),
    }
    messages.error(request, error)
    return redirect(f"{incident.get_absolute_url()}#comments")


@login_required
@require_POST
def thread_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a thread on a section of the review (or on the whole of it)."""
    incident = _incident(request, pk)
    body = request.POST.get("body", "")
    try:
        comment = threads.thread_start(
            incident=incident, by=request.user, body=body, section=request.POST.get("section", "")
        )
    except ValueError as problem:
        return _refused_comment(request, incident, body, str(problem))
    request.session.pop(COMMENT_DRAFT, None)
    messages.success(request, "Comment added.")
    return redirect(f"{incident.get_absolute_url()}#thread-{comment.pk}")


@login_required
@require_POST
def thread_reply(request: HttpRequest, pk: int, thread_pk: int) -> HttpResponse:
    """Answer a thread."""
    thread = _thread(request, pk, thread_pk)
    body = request.POST.get("body", "")
    try:
        threads.thread_reply(thread=thread, by=request.user, body=body)
    except ValueError as problem:
        messages.error(request, str(problem))
    else:
        messages.success(request, "Reply added.")
    return redirect(f"{thread.incident.get_absolute_url()}#thread-{thread.parent_id or thread.pk}")


def _resolution(request: HttpRequest, pk: int, thread_pk: int, resolve: bool) -> HttpResponse:
    thread = _thread(request, pk, thread_pk)
    try:
        if resolve:
            threads.thread_resolve(thread=thread, by=request.user)
        else:
            threads.thread_reopen(thread=thread, by=request.user)
    except threads.ThreadRefused as refused:
        raise PermissionDenied(str(refused)) from refused
    messages.success(request, "Thread resolved." if resolve else "Thread reopened.")
    return redirect(f"{thread.incident.get_absolute_url()}#thread-{thread.parent_id or thread.pk}")


@login_required
@require_POST
def thread_resolve(request: HttpRequest, pk: int, thread_pk: int) -> HttpResponse:
    """Mark a thread resolved."""
    return _resolution(request, pk, thread_pk, True)


@login_required
@require_POST
def thread_reopen(request: HttpRequest, pk: int, thread_pk: int) -> HttpResponse:
    """Reopen a resolved thread."""
    return _resolution(request, pk, thread_pk, False)
