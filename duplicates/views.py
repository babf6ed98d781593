"""Web endpoints for a reviewer's decision on a possible duplicate (POST forms)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from incidents.bounds import InvalidInput, bounded_int

from . import services
from .models import PossibleDuplicate
from .permissions import DECIDE_REFUSED, can_decide
from .selectors import pairs_visible_to


def _pair(request: HttpRequest, pk: int) -> PossibleDuplicate:
    """The pair, if the user may see both its reviews (else 404) and edit both (else 403)."""
    pair = get_object_or_404(
        pairs_visible_to(request.user).select_related("first", "second"), pk=pk
    )
    if not can_decide(request.user, pair):
        raise PermissionDenied(DECIDE_REFUSED)
    return pair


def _back(request: HttpRequest, pair: PossibleDuplicate, default: int) -> HttpResponse:
    """Back to the review page the form was on (one of the pair), else to `default`."""
    came_from = request.POST.get("from", "")
    target = int(came_from) if came_from in (str(pair.first_id), str(pair.second_id)) else default
    return redirect("incidents:detail", pk=target)


@login_required
@require_POST
def merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge the pair, keeping the review named by `keep`."""
    pair = _pair(request, pk)
    try:
        keep = bounded_int(request.POST.get("keep", ""), name="keep", minimum=1)
        services.duplicate_merge(pair=pair, by=request.user, keep=keep)
    except InvalidInput:
        messages.error(request, "Choose which review to keep.")
        return _back(request, pair, pair.first_id)
    except services.DecisionRefused as refused:
        messages.error(request, str(refused))
        return _back(request, pair, pair.first_id)
    messages.success(request, "Merged: this review is kept, with the other one's source.")
    return redirect("incidents:detail", pk=keep)


@login_required
@require_POST
def dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    """Record that the pair are different incidents."""
    pair = _pair(request, pk)
    try:
        services.duplicate_dismiss(pair=pair, by=request.user)
    except services.DecisionRefused as refused:
        messages.error(request, str(refused))
        return _back(request, pair, pair.first_id)
    messages.success(request, "Noted: not a duplicate. Seams will not flag this pair again.")
    return _back(request, pair, pair.first_id)
