"""Pages for reading the catalogue: patterns, shapes, leverage levels."""

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from incidents.models import Incident, PatternLink

from .models import EmergentShape, LeverageLevel, PatternRelation, StructuralPattern


@login_required
def pattern_list(request: HttpRequest) -> HttpResponse:
    """The catalogue, optionally narrowed by shape or by words in name, alias or summary."""
    patterns = StructuralPattern.objects.prefetch_related("typical_shapes").order_by("name")
    shape = request.GET.get("shape", "")
    if shape:
        patterns = patterns.filter(typical_shapes__slug=shape)
    query = request.GET.get("q", "").strip()
    if query:
        # aliases is a JSON list; a text match on it is enough for a catalogue of dozens.
        patterns = patterns.filter(
            Q(name__icontains=query) | Q(summary__icontains=query) | Q(aliases__icontains=query)
        )
    return render(
        request,
        "taxonomy/pattern_list.html",
        {
            "patterns": patterns,
            "shapes": EmergentShape.objects.all(),
            "shape": shape,
            "q": query,
        },
    )


@login_required
def pattern_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One pattern, its relations, and the visible incidents that show it."""
    pattern = get_object_or_404(
        StructuralPattern.objects.prefetch_related("typical_shapes"), slug=slug
    )
    visible = Incident.objects.visible_to(request.user)
    links = (
        PatternLink.objects.filter(pattern=pattern, incident__in=visible)
        .select_related("incident")
        .prefetch_related("incident__components")
        .order_by("-incident__started_at")
    )
    relations = PatternRelation.objects.filter(source=pattern).select_related("target")
    return render(
        request,
        "taxonomy/pattern_detail.html",
        {"pattern": pattern, "entry": pattern.entry, "links": links, "relations": relations},
    )


@login_required
def shape_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One emergent shape and the patterns that typically produce it."""
    shape = get_object_or_404(
        EmergentShape.objects.prefetch_related(
            Prefetch("patterns", StructuralPattern.objects.order_by("name"))
        ),
        slug=slug,
    )
    return render(request, "taxonomy/shape_detail.html", {"shape": shape, "entry": shape.entry})


@login_required
def leverage_levels(request: HttpRequest) -> HttpResponse:
    """Meadows' twelve leverage levels, shallowest first."""
    return render(request, "taxonomy/leverage_levels.html", {"levels": LeverageLevel.objects.all()})
