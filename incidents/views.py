"""Web pages for reading and writing reviews. Each view translates HTTP to forms and services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from review_templates.forms import TemplateChoiceForm
from similarity.questions import similar_to_review
from similarity.search import text_search
from taxonomy.models import StructuralPattern

from . import permissions
from .forms import ReviewForms
from .lint import lint_sections
from .models import ActionItem, Comment, Incident, PatternLink
from .revisions import changes_since
from .selectors import earlier_in_same_structure
from .services import (
    ConcurrentEditError,
    incident_create,
    incident_update,
    missing_for_publication,
)

LINTED_FIELDS = ("summary", "impact", "narrative", "went_well", "where_lucky")


def _visible(request: HttpRequest):
    return Incident.objects.visible_to(request.user)


def _hint_message(request: HttpRequest, incident: Incident) -> None:
    """After a save, say how many blameless-language hints the text still has (never blocks)."""
    hints = lint_sections({name: getattr(incident, name) for name in LINTED_FIELDS})
    count = sum(len(found) for found in hints.values())
    if count:
        messages.info(
            request,
            f"{count} blameless-language hint{'s' if count != 1 else ''} on this review: "
            "see “Blameless-language hints” below.",
        )


def _restrict_choices(forms: ReviewForms, request: HttpRequest) -> ReviewForms:
    """Offer only the groups the user may restrict a review to; the form then refuses any
    other group, so nobody restricts a review away from themselves."""
    # Whoever can open the form can see the review, so its current group (if any) is one of
    # theirs: lifting or keeping the restriction stays possible, moving it away is not.
    forms.incident.fields["restricted_to"].queryset = permissions.restrictable_groups(request.user)
    # Likewise the teams an action item may be given to (never a closed group's name).
    forms.offer_owners(request.user)
    return forms


def _form_context(forms: ReviewForms, incident: Incident | None) -> dict:
    # The guide beside the pattern picker: each pattern's summary and warning signs.
    return {"forms": forms, "incident": incident, "pattern_guide": StructuralPattern.objects.all()}


class DatedThenUndated:
    """Reviews newest first, then the undated ones, for a paginator.

    PostgreSQL sorts NULL first in a descending order (SQLite last), and `NULLS LAST` cannot
    use the index on the start time, which made a page of the list cost a sort of the whole
    table. Two index-ordered queries, one after the other, give the same order everywhere.
    """

    def __init__(self, incidents: QuerySet) -> None:
        self.dated = incidents.filter(started_at__isnull=False).order_by("-started_at", "-id")
        self.undated = incidents.filter(started_at__isnull=True).order_by("-id")
        self._dated_count: int | None = None

    def count(self) -> int:
        if self._dated_count is None:
            self._dated_count = self.dated.count()
        return self._dated_count + self.undated.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list:
        if self._dated_count is None:
            self._dated_count = self.dated.count()
        start, stop = window.start or 0, window.stop
        n = self._dated_count
        rows = list(self.dated[start:stop]) if start < n else []
        if stop is None or stop > n:
            rows += list(self.undated[max(start - n, 0) : None if stop is None else stop - n])
        return rows


@login_required
def incident_list(request: HttpRequest) -> HttpResponse:
    """All reviews the reader may see, newest first."""
    incidents = _visible(request).prefetch_related(
        "shapes",
        "components",
        Prefetch("pattern_links", PatternLink.objects.select_related("pattern")),
    )
    status = request.GET.get("status")
    if status in Incident.Status.values:
        incidents = incidents.filter(status=status)
    query = request.GET.get("q", "").strip()[:200]
    # Ranked by relevance when searching, newest first otherwise.
    ordered = DatedThenUndated(incidents)
    incidents = text_search(incidents, query) if query else ordered
    page = Paginator(incidents, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "incidents/list.html",
        {"page": page, "statuses": Incident.Status.choices, "status": status, "q": query},
    )


@login_required
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One review, rendered, with the structures it shares with earlier incidents."""
    incident = get_object_or_404(
        _visible(request)
        .with_review_parts()
        .prefetch_related(
            "reviewers",
            Prefetch("comments", Comment.objects.select_related("author", "resolved_by")),
        ),
        pk=pk,
    )
    unpublished = incident.status != Incident.Status.PUBLISHED
    seen_before = earlier_in_same_structure(incident=incident, user=request.user)
    # "Have we seen this before?": anywhere, then at this review's own organisation. Both
    # answers are for this reader, so a restricted review they may not read never shows.
    similar = similar_to_review(user=request.user, incident=incident, limit=5)
    ours_before = similar_to_review(
        user=request.user, incident=incident, scope="organisation", limit=3
    )
    sections = {name: getattr(incident, name) for name in LINTED_FIELDS}
    context = {
        "incident": incident,
        # Hints are advice for authors of unpublished reviews; they never block anything.
        "hints": lint_sections(sections) if unpublished else {},
        "missing": missing_for_publication(incident) if unpublished else [],
        "reviewers": incident.reviewers.all(),
        "comments": incident.comments.all(),
        "shapes": incident.shapes.all(),
        "components": incident.components.all(),
        "timeline": incident.timeline.all(),
        "factors": incident.contributing_factors.all(),
        "actions": incident.action_items.all(),
        "pattern_links": incident.pattern_links.all(),
        "seen_before": seen_before,
        "similar": similar,
        "ours_before": ours_before.results,
        # A review that repeats an earlier structure should say so in its shapes.
        "suggest_recurrence_shape": bool(seen_before)
        and not any(shape.slug == "recurrence" for shape in incident.shapes.all()),
        "despite_remediation": [m for m in seen_before if m.this_after_remediation],
        # Buttons for what this reader may do (the views check again on every request).
        "may": {
            "edit": permissions.can_edit(request.user, incident),
            "request_review": permissions.can_request_review(request.user, incident),
            "publish": permissions.can_publish(request.user, incident),
            "comment": permissions.can_comment(request.user, incident),
        },
    }
    return render(request, "incidents/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def incident_create_view(request: HttpRequest) -> HttpResponse:
    """Write a new review."""
    if not permissions.can_create(request.user):
        raise PermissionDenied(permissions.CREATE_REFUSED)
    # The template the review is written from: chosen at the top of the page (the default
    # preselected); its timeline rows and prompts come with it.
    choice = TemplateChoiceForm(request.POST if request.method == "POST" else request.GET)
    forms = _restrict_choices(ReviewForms(request.POST or None, template=choice.chosen()), request)
    if request.method == "POST" and choice.is_acceptable() and forms.is_valid():
        incident = incident_create(by=request.user, content=forms.review_content())
        messages.success(request, "Review saved. Seams is looking for structures it shares.")
        _hint_message(request, incident)
        return redirect(incident)
    context = {**_form_context(forms, None), "template_choice": choice}
    return render(request, "incidents/form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def incident_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a review; a save over someone else's newer save is refused, keeping the text."""
    incident = get_object_or_404(
        _visible(request).prefetch_related(
            "components",
            "timeline",
            "contributing_factors",
            Prefetch("action_items", ActionItem.objects.order_by("id")),
            "pattern_links",
        ),
        pk=pk,
    )
    if not permissions.can_edit(request.user, incident):
        raise PermissionDenied(permissions.EDIT_REFUSED)
    forms = _restrict_choices(ReviewForms(request.POST or None, instance=incident), request)
    if request.method == "POST" and forms.is_valid():
        try:
            incident_update(
                incident=incident,
                by=request.user,
                content=forms.review_content(),
                expected_version=forms.expected_version(),
            )
        except ConcurrentEditError as conflict:
            # Keep everything the editor typed, but let the next save go through once they
            # have compared: the form now expects the version that is stored.
            data = request.POST.copy()
            data["version"] = conflict.incident.version
            forms = _restrict_choices(ReviewForms(data, instance=incident), request)
            forms.is_valid()
            meanwhile = changes_since(incident=incident, version=conflict.expected_version)
            messages.error(
                request,
                f"Someone else saved this review (now version {conflict.incident.version}) "
                "while you were editing. Your text is still below: compare, then save again.",
            )
            return render(
                request,
                "incidents/form.html",
                {**_form_context(forms, incident), "conflict": conflict, "meanwhile": meanwhile},
                status=409,
            )
        messages.success(request, "Review saved.")
        _hint_message(request, incident)
        return redirect(incident)
    return render(request, "incidents/form.html", _form_context(forms, incident))
