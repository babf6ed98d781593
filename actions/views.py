"""Web pages of action items: "My action items", "Overdue", and marking one done."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from incidents.models import ActionItem
from incidents.services import action_item_set_status
from taxonomy.models import LeverageLevel

from . import selectors
from .filters import ActionItemFilter
from .permissions import CLOSE_REFUSED, can_close, closable

PAGE_SIZE = 25
# What the pages' filter form may send; `mine` only on the overdue page.
PAGE_FILTERS = ("structure", "leverage", "mine")


def _render_list(
    request: HttpRequest, *, base: QuerySet[ActionItem], page_name: str, title: str
) -> HttpResponse:
    """One page of `base` (filtered by the query string), each item with whether the reader
    may close it."""
    # A form left at "any" sends empty values; the API refuses those, the pages ignore them.
    asked = {k: v for k, v in request.GET.items() if k in PAGE_FILTERS and v != ""}
    if page_name != "overdue":
        asked.pop("mine", None)
    filters = ActionItemFilter(asked, queryset=base, request=request)
    valid = filters.is_valid()
    items = selectors.in_list_order(filters.qs if valid else base.none())
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    may_close = closable(request.user, rows)
    return render(
        request,
        "actions/list.html",
        {
            "title": title,
            "page_name": page_name,
            "page": page,
            "rows": [(item, item.pk in may_close) for item in rows],
            "today": timezone.localdate(),
            "asked": asked,
            "errors": filters.form.errors if not valid else {},
            # The filters again, for the pagination links.
            "query": urlencode(asked),
            "structures": selectors.structures_of(base),
            "levels": LeverageLevel.objects.all(),
        },
    )


@login_required
@require_GET
def my_items(request: HttpRequest) -> HttpResponse:
    """The items the reader owns (theirs or their team's): open ones first, soonest due."""
    base = selectors.owned_by(selectors.visible_items(request.user), request.user)
    return _render_list(request, base=base, page_name="mine", title="My action items")


@login_required
@require_GET
def overdue(request: HttpRequest) -> HttpResponse:
    """Open and in-progress items past their due date, of every review the reader may see
    (`?mine=true`: only their own)."""
    base = selectors.overdue(selectors.visible_items(request.user), timezone.localdate())
    return _render_list(request, base=base, page_name="overdue", title="Overdue action items")


@login_required
@require_POST
def close(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark an item done (or, with `status=wont_do`, won't do), recording who and when."""
    item = get_object_or_404(
        selectors.visible_items(request.user).select_related("incident"), pk=pk
    )
    if not can_close(request.user, item):
        raise PermissionDenied(CLOSE_REFUSED)
    status = request.POST.get("status", ActionItem.Status.DONE)
    if status not in (ActionItem.Status.DONE, ActionItem.Status.WONT_DO):
        return HttpResponse("Send status=done or status=wont_do.", status=400)
    try:
        action_item_set_status(item=item, by=request.user, status=status)
    except ActionItem.DoesNotExist:
        messages.error(request, "That action item was removed from its review meanwhile.")
    else:
        label = ActionItem.Status(status).label.lower()
        messages.success(request, f"“{item.title}” marked {label}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "actions:mine"
    return redirect(target)
