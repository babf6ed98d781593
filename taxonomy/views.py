"""Pages for reading the catalogue: patterns, shapes, leverage levels, Perrow's axes."""

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from incidents.models import Incident, PatternLink

from .catalogue import perrow_axes
from .models import EmergentShape, LeverageLevel, StructuralPattern
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
def pattern_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One pattern, its relations, and the visible incidents that show it, with their
    components: one structure expressed through different parts."""
    pattern = get_object_or_404(patterns_with_shapes(), slug=slug)
    visible = Incident.objects.visible_to(request.user)
    links = (
        PatternLink.objects.filter(pattern=pattern, incident__in=visible)
        .select_related("incident")
        .prefetch_related("incident__components")
        .order_by("-incident__started_at", "-incident_id")
    )
    return render(
        request,
        "taxonomy/pattern_detail.html",
        {
            "pattern": pattern,
            "entry": pattern.entry,
            "links": links,
            "relations": pattern.relations_out.all(),
        },
    )


@login_required
def shape_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One emergent shape, its canonical incident, and the patterns that produce it."""
    shape = get_object_or_404(
        EmergentShape.objects.prefetch_related(
            Prefetch("patterns", StructuralPattern.objects.order_by("name"))
        ),
        slug=slug,
    )
    key = shape.entry.get("canonical_incident_key", "")
    canonical = (
        Incident.objects.visible_to(request.user).filter(external_id=f"demo:{key}").first()
        if key
        else None
    )
    return render(
        request,
        "taxonomy/shape_detail.html",
        {
            "shape": shape,
            "entry": shape.entry,
            "canonical": canonical,
            "shapes": EmergentShape.objects.all(),
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
