"""Pages and endpoints around writing a review: live preview and assistance, history,
diff and restore, the review workflow, comments, and answers to suggestions."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from review_templates.requirements import RequiredSectionsEmpty, missing_required_sections
from similarity.questions import similar_to_text
from taxonomy.models import StructuralPattern

from . import permissions, services
from .api.parsers import JsonDocumentError, load_json
from .bounds import CONTROL_CHARACTERS, InvalidInput, bounded_int
from .lint import lint_sections
from .models import Incident, SuggestionDecision
from .rendering import render_markdown
from .revisions import diff_snapshots

ASSIST_FIELDS = ("summary", "impact", "narrative", "went_well", "where_lucky", "factors",
                 "timeline")  # fmt: skip


def _visible(request: HttpRequest):
    return Incident.objects.visible_to(request.user)


def _json_body(request: HttpRequest) -> dict | JsonResponse:
    if len(request.body) > settings.SEAMS_MAX_SECTION_CHARS * 8:
        return JsonResponse({"error": "The text is too long to check."}, status=413)
    try:
        data = load_json(request.body or b"{}")
    except JsonDocumentError as exc:
        return JsonResponse({"error": f"Send JSON. {exc}"}, status=400)
    if not isinstance(data, dict):
        return JsonResponse({"error": "Send a JSON object."}, status=400)
    return data


@login_required
@require_POST
def preview(request: HttpRequest) -> JsonResponse:
    """Render Markdown exactly as the review page will (same sanitising renderer)."""
    data = _json_body(request)
    if isinstance(data, JsonResponse):
        return data
    text = data.get("text", "")
    if not isinstance(text, str):
        return JsonResponse({"error": "`text` must be a string."}, status=400)
    return JsonResponse({"html": str(render_markdown(text))})


@login_required
@require_POST
def assist(request: HttpRequest) -> JsonResponse:
    """Blameless-language hints per section, suggested patterns and similar incidents, for the
    text written so far. Suggestions the author already rejected are left out."""
    data = _json_body(request)
    if isinstance(data, JsonResponse):
        return data
    sent = data.get("sections") or {}
    if not isinstance(sent, dict):
        return JsonResponse(
            {"error": "`sections` must be an object of section name to text."}, status=400
        )
    sections = {k: v for k, v in sent.items() if isinstance(v, str)}
    sections = {k: v for k, v in sections.items() if k in ASSIST_FIELDS or k == "title"}
    if any(CONTROL_CHARACTERS.search(v) for v in sections.values()):
        return JsonResponse(
            {"error": "The text contains a control character (such as NUL); remove it."},
            status=400,
        )
    incident = None
    if data.get("incident"):
        try:
            incident_id = bounded_int(data["incident"], name="incident", minimum=1)
        except InvalidInput as exc:
            return JsonResponse({"error": f"{exc} Send the review's id."}, status=400)
        incident = _visible(request).filter(pk=incident_id).first()
    rejected: set[str] = set()
    rejected_incidents: set[int] = set()
    linked: set[str] = set()
    if incident is not None:
        decisions = incident.suggestion_decisions.filter(
            decision=SuggestionDecision.Decision.REJECTED
        ).select_related("pattern")
        rejected = {d.pattern.slug for d in decisions if d.pattern_id}
        rejected_incidents = {d.other_incident_id for d in decisions if d.other_incident_id}
        linked = set(incident.pattern_links.values_list("pattern__slug", flat=True))
    text = "\n".join(sections.values())
    not_offered = frozenset(rejected | linked)
    exclude = {incident.pk} if incident else set()
    answer = similar_to_text(
        user=request.user,
        text=text,
        organisation=incident.organisation if incident else "",
        exclude=frozenset(exclude | rejected_incidents),
        exclude_patterns=not_offered,
    )
    hints = lint_sections({k: v for k, v in sections.items() if k != "title"})
    return JsonResponse(
        {
            "hints": {name: [h.to_dict() for h in found] for name, found in hints.items()},
            "patterns": [
                {"slug": p.slug, "name": p.name, "score": p.score, "why": p.why}
                for p in answer.patterns
            ],
            "incidents": [
                {
                    "id": s.incident.pk,
                    "title": s.incident.title,
                    "url": s.incident.get_absolute_url(),
                    "score": s.score,
                    "confidence": s.confidence,
                    "why": s.why,
                }
                for s in answer.results
            ],
        }
    )


@login_required
@require_POST
def decide_suggestion(request: HttpRequest, pk: int) -> HttpResponse:
    """Record accept / reject of a suggestion (a pattern or a similar incident)."""
    incident = get_object_or_404(_visible(request), pk=pk)
    if not permissions.can_edit(request.user, incident):
        raise PermissionDenied(permissions.EDIT_REFUSED)
    decision = request.POST.get("decision")
    if decision not in SuggestionDecision.Decision.values:
        return JsonResponse({"error": "decision must be accepted or rejected"}, status=400)
    pattern = other = None
    if any(CONTROL_CHARACTERS.search(v) for v in request.POST.values()):
        return JsonResponse({"error": "A field contains a control character (such as NUL)."},
                            status=400)  # fmt: skip
    if request.POST.get("pattern"):
        pattern = StructuralPattern.objects.filter(slug=request.POST["pattern"]).first()
        if pattern is None:
            return JsonResponse({"error": "unknown pattern"}, status=400)
    elif request.POST.get("incident"):
        try:
            other_id = bounded_int(request.POST["incident"], name="incident", minimum=1)
        except InvalidInput as exc:
            return JsonResponse({"error": str(exc)}, status=400)
        other = _visible(request).filter(pk=other_id).first()
        if other is None:
            return JsonResponse({"error": "unknown incident"}, status=400)
    else:
        return JsonResponse({"error": "name a pattern or an incident"}, status=400)
    link = request.POST.get("link", "1") != "0"
    # A link states what the author concluded, as the form and the API require: it takes
    # their rationale, never Seams' evidence for the suggestion.
    rationale = request.POST.get("rationale", "").strip()
    if link and pattern is not None and decision == SuggestionDecision.Decision.ACCEPTED:
        if not rationale:
            return JsonResponse(
                {
                    "error": "Say why this incident shows the pattern: a pattern link needs "
                    "your rationale (send `rationale`, or `link=0` to only record the answer)."
                },
                status=400,
            )
        if len(rationale) > settings.SEAMS_MAX_SECTION_CHARS:
            return JsonResponse(
                {"error": f"The rationale is too long: at most "
                          f"{settings.SEAMS_MAX_SECTION_CHARS:,} characters."},
                status=400,
            )  # fmt: skip
    services.suggestion_decide(
        incident=incident,
        by=request.user,
        decision=decision,
        pattern=pattern,
        other_incident=other,
        rationale=rationale,
        link=link,
    )
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"ok": True})
    messages.success(request, "Noted.")
    return redirect("incidents:edit", pk=incident.pk)


@login_required
def history(request: HttpRequest, pk: int) -> HttpResponse:
    """Every saved version of a review, newest first."""
    incident = get_object_or_404(_visible(request), pk=pk)
    revisions = incident.revisions.select_related("created_by").defer("snapshot")
    return render(
        request,
        "incidents/history.html",
        {
            "incident": incident,
            "revisions": revisions,
            "may_restore": permissions.can_restore(request.user, incident),
        },
    )


@login_required
def diff(request: HttpRequest, pk: int) -> HttpResponse:
    """What changed between two versions (?from=N&to=M; default: previous → latest)."""
    incident = get_object_or_404(_visible(request), pk=pk)
    try:
        new_v = bounded_int(request.GET.get("to", incident.version), name="to")
        old_v = bounded_int(request.GET.get("from", new_v - 1), name="from")
    except InvalidInput as exc:
        return HttpResponse(f"{exc} Versions are numbers, e.g. ?from=2&to=3.", status=400)
    found = {r.version: r for r in incident.revisions.filter(version__in=[old_v, new_v])}
    if old_v not in found or new_v not in found:
        return HttpResponse(
            f"This review has no version {old_v if old_v not in found else new_v}.", status=404
        )
    return render(
        request,
        "incidents/diff.html",
        {
            "incident": incident,
            "old": found[old_v],
            "new": found[new_v],
            "sections": diff_snapshots(found[old_v].snapshot, found[new_v].snapshot),
        },
    )


@login_required
@require_POST
def restore(request: HttpRequest, pk: int, version: int) -> HttpResponse:
    """Make an old version current again, as a new version."""
    incident = get_object_or_404(_visible(request), pk=pk)
    if not permissions.can_restore(request.user, incident):
        raise PermissionDenied(permissions.EDIT_REFUSED)
    revision = get_object_or_404(incident.revisions, version=version)
    try:
        expected = bounded_int(
            request.POST.get("expected_version", incident.version), name="expected_version"
        )
    except InvalidInput:
        expected = incident.version
    try:
        services.revision_restore(revision=revision, by=request.user, expected_version=expected)
    except services.ConcurrentEditError:
        messages.error(request, "The review changed meanwhile; look at the history again.")
        return redirect("incidents:history", pk=pk)
    messages.success(request, f"Version {version} restored as a new version.")
    return redirect(incident)


class ReviewRequestForm(forms.Form):
    reviewers = forms.ModelMultipleChoiceField(
        # Only people whose role lets them review (Reviewer, Admin) can be named.
        queryset=permissions.reviewer_candidates(),
        widget=forms.CheckboxSelectMultiple,
        help_text="People with the Reviewer or Admin role.",
    )
    reopen = forms.BooleanField(
        label="Take this published review back to review",
        help_text="It stops being published until a reviewer publishes it again.",
    )

    def __init__(self, *args, published: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not published:
            del self.fields["reopen"]  # only a published review needs saying so


@login_required
def request_review(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a draft for review to named reviewers. A published review goes back to review
    only when an editor asks for exactly that (the `reopen` box), never as a side effect."""
    incident = get_object_or_404(_visible(request), pk=pk)
    if not permissions.can_request_review(request.user, incident):
        if incident.status == Incident.Status.PUBLISHED:
            raise PermissionDenied(
                "This review is published. Only an editor can take it back to review."
            )
        raise PermissionDenied(permissions.EDIT_REFUSED)
    published = incident.status == Incident.Status.PUBLISHED
    # The current reviewers start ticked: the service replaces the whole list, so a form
    # that started empty would drop every reviewer the sender did not tick again.
    form = ReviewRequestForm(
        request.POST or None,
        published=published,
        initial={"reviewers": list(incident.reviewers.all())},
    )
    context = {"incident": incident, "form": form}
    if request.method == "POST" and form.is_valid():
        try:
            services.incident_request_review(
                incident=incident, by=request.user, reviewers=list(form.cleaned_data["reviewers"])
            )
        except RequiredSectionsEmpty as refused:
            # Nothing changed; the reviewers ticked stay ticked for when the sections are in.
            messages.error(request, str(refused))
            return render(request, "incidents/request_review.html", context, status=409)
        messages.success(request, "Sent for review.")
        return redirect(incident)
    if request.method == "GET" and (missing := missing_required_sections(incident)):
        messages.warning(
            request,
            f"The template “{incident.template.name}” requires "
            f"{', '.join(s.label for s in missing)}, still empty: fill them in before "
            "sending the review for review.",
        )
    return render(request, "incidents/request_review.html", context)


@login_required
@require_POST
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    """Publish, or say which sections are still missing."""
    incident = get_object_or_404(_visible(request), pk=pk)
    if incident.status == Incident.Status.PUBLISHED:
        messages.info(request, "This review is already published.")
        return redirect(incident)
    if not permissions.can_publish(request.user, incident):
        raise PermissionDenied(
            "Only a named reviewer other than the author (or someone with the publish "
            "permission) may publish this review. Send it for review first."
        )
    try:
        services.incident_publish(incident=incident, by=request.user)
    except services.PublishBlocked as blocked:
        messages.error(
            request, "Not published yet. Still missing: " + "; ".join(blocked.missing) + "."
        )
        return redirect(incident)
    messages.success(request, "Published.")
    return redirect(incident)


COMMENT_DRAFT = "comment_draft"


@login_required
@require_POST
def comment(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a reviewer's comment."""
    incident = get_object_or_404(_visible(request), pk=pk)
    body = request.POST.get("body", "")
    limit = settings.SEAMS_MAX_SECTION_CHARS
    if CONTROL_CHARACTERS.search(body):
        error = (
            "That comment contains a control character (such as NUL, often pasted from a "
            "terminal) and was not saved. It is below without them: check it and send again."
        )
    elif len(body) > limit:
        error = f"That comment is {len(body):,} characters long; at most {limit:,} fit."
    elif not body.strip():
        error = "A comment needs some text."
    else:
        services.comment_add(incident=incident, by=request.user, body=body)
        request.session.pop(COMMENT_DRAFT, None)
        messages.success(request, "Comment added.")
        return redirect(f"{incident.get_absolute_url()}#comments")
    # The text is kept for the form (see detail.html), so a refused comment is not lost.
    request.session[COMMENT_DRAFT] = {"incident": pk, "body": CONTROL_CHARACTERS.sub("", body)}
    messages.error(request, error)
    return redirect(f"{incident.get_absolute_url()}#comments")
