"""Web pages of recurring structures: the ranked, filtered list and one structure's page."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from taxonomy.models import EmergentShape, StructuralPattern

from .analysis.concentration import hotspots
from .api.recurrence_filters import RECURRENCE_SORTS, WINDOW_LABELS, RecurrenceFilter
from .models import Incident, RecurringStructure
from .permissions import visible_components
from .structure_page import card, structure_view, visible_structure

PAGE_SIZE = 20


@login_required
def recurrences(request: HttpRequest) -> HttpResponse:
    """Recurring structures ranked by cost, filtered, a page at a time, and the components
    that concentrate risk."""
    # A form left at "any" sends empty values; the API refuses those, the page ignores them.
    asked = {key: value for key, value in request.GET.items() if value != "" and key != "page"}
    filters = RecurrenceFilter(asked, queryset=RecurringStructure.objects.all(), request=request)
    valid = filters.is_valid()
    structures = filters.structures() if valid else []
    page = Paginator(structures, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "incidents/recurrences.html",
        {
            "page": page,
            "cards": [card(structure) for structure in page.object_list],
            "errors": filters.form.errors if not valid else {},
            "asked": asked,
            # The filters again, for the pagination links.
            "query": urlencode(asked),
            "windows": list(WINDOW_LABELS.items()),
            "sorts": list(RECURRENCE_SORTS.items()),
            "shapes": EmergentShape.objects.all(),
            "patterns": StructuralPattern.objects.only("slug", "name").order_by("name"),
            # Plain rows: an archive can name thousands of components.
            "components": visible_components(request.user).order_by("name").values("slug", "name"),
            "severities": Incident.Severity.choices,
            "hotspots": hotspots(incidents=Incident.objects.visible_to(request.user), limit=10),
        },
    )


@login_required
def structure(request: HttpRequest, pk: int) -> HttpResponse:
    """One structure: its members on a time line, the components it went through, every
    action item, what came back after remediation and the catalogue's fixes not yet tried.

    `?component=<slug>` or `?only=recurred` narrow the time line to the members behind a
    figure, so every number on the page links to its incidents.
    """
    component = request.GET.get("component", "")
    only_recurred = request.GET.get("only") == "recurred"
    view = structure_view(
        visible_structure(request.user, pk),
        page=request.GET.get("page"),
        actions_page=request.GET.get("actions_page"),
        component=component,
        only_recurred=only_recurred,
    )
    narrowed_by = next(
        (use.component for use in view.components if use.component.slug == component), None
    )
    kept = {"component": component} if component else {}
    if only_recurred:
        kept["only"] = "recurred"
    return render(
        request,
        "incidents/structure.html",
        {
            "view": view,
            "dated": view.dated,
            "undated": view.undated,
            "narrowed": bool(narrowed_by or only_recurred),
            "narrowed_by": narrowed_by,
            "only_recurred": only_recurred,
            # Each pager keeps the filters and the other pager's page.
            "members_query": urlencode({**kept, "actions_page": view.actions_page.number}),
            "actions_query": urlencode({**kept, "page": view.members_page.number}),
        },
    )
