"""Pages for reading the catalogue: the list of patterns, leverage levels, Perrow's axes.

A pattern's and a shape's own pages show the reviews that exhibit them, so they are served by
`incidents.views_catalogue`: the catalogue never reads reviews."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .catalogue import perrow_axes
from .models import EmergentShape, LeverageLevel
from .selectors import group_by_shape, patterns_with_shapes, search_patterns


@login_required
def pattern_list(request: HttpRequest) -> HttpResponse:
    """The catalogue grouped by the shapes patterns produce; narrowed by shape or words."""
    shapes = list(EmergentShape.objects.all())
    shape = request.GET.get("shape", "")
    query = request.GET.get("q", "").strip()
    patterns = search_patterns(patterns_with_shapes(), query=query, shape=shape)
    return render(
        request,
        "taxonomy/pattern_list.html",
        {
            "patterns": patterns,
            "groups": group_by_shape(patterns, shapes) if not (query or shape) else [],
            "shapes": shapes,
            "shape": shape,
            "q": query,
        },
    )


@login_required
def leverage_levels(request: HttpRequest) -> HttpResponse:
    """Meadows' twelve leverage levels, shallowest first."""
    return render(request, "taxonomy/leverage_levels.html", {"levels": LeverageLevel.objects.all()})


@login_required
def perrow(request: HttpRequest) -> HttpResponse:
    """Perrow's two axes and their 1–5 scales, for placing an incident on the map."""
    return render(request, "taxonomy/perrow.html", {"axes": perrow_axes()})
