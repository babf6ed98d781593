"""Pages for defining review templates: list, create, edit, delete."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from .forms import ReviewTemplateForm
from .models import ReviewTemplate
from .permissions import MANAGE_REFUSED, can_manage_templates
from .sections import labels
from .selectors import reviews_using, templates_with_use
from .services import template_delete, template_save


def managers_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log in first; then only people who may define templates get the page (403 else)."""

    @login_required
    @wraps(view)
    def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not can_manage_templates(request.user):
            raise PermissionDenied(MANAGE_REFUSED)
        return view(request, *args, **kwargs)

    return checked


@managers_only
def template_list(request: HttpRequest) -> HttpResponse:
    """Every template, what it requires and starts with, and how many reviews use it."""
    rows = [
        {"template": t, "required": labels(t.required_sections)}
        for t in templates_with_use(request.user)
    ]
    return render(request, "review_templates/list.html", {"rows": rows})


def _edit(request: HttpRequest, template: ReviewTemplate) -> HttpResponse:
    creating = template.pk is None
    form = ReviewTemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        template = form.save(commit=False)
        template_save(template, make_default=form.cleaned_data["make_default"])
        messages.success(
            request, f"Template “{template.name}” {'created' if creating else 'saved'}."
        )
        return redirect("review_templates:list")
    return render(
        request,
        "review_templates/form.html",
        {"form": form, "template": None if creating else template},
    )


@managers_only
@require_http_methods(["GET", "POST"])
def template_create(request: HttpRequest) -> HttpResponse:
    """Define a new template."""
    return _edit(request, ReviewTemplate())


@managers_only
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a template. Reviews already written from it follow the new requirements."""
    return _edit(request, get_object_or_404(ReviewTemplate, pk=pk))


@managers_only
@require_http_methods(["GET", "POST"])
def template_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm, then delete a template; the reviews written from it are kept."""
    template = get_object_or_404(ReviewTemplate, pk=pk)
    if request.method == "POST":
        name = template.name
        template_delete(template)
        messages.success(
            request,
            f"Template “{name}” deleted. The reviews written from it are kept as they are.",
        )
        return redirect("review_templates:list")
    return render(
        request,
        "review_templates/delete.html",
        {"template": template, "in_use": reviews_using(template, request.user)},
    )
