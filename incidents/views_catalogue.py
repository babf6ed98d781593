"""The catalogue's pages that show reviews: a pattern with the reviews that exhibit it, a shape
with its canonical incident. They live here, above the catalogue, so `taxonomy` never reads
`incidents`."""

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from taxonomy.models import EmergentShape, StructuralPattern
from taxonomy.selectors import patterns_with_shapes

from .models import Incident, PatternLink


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
