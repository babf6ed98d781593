"""Concentration hotspots: components that sit in the blast radius of many incidents.

An incident's blast radius is the components it names plus what those depend on (the
dependency the S3 review calls "the thing everyone chose separately"). A component that many
incidents reach, directly or through a dependency, concentrates risk nobody ratified.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import QuerySet

from incidents.models import Component, Incident


@dataclass
class Hotspot:
    """A component and the incidents whose blast radius included it."""

    component: Component
    direct: set[int] = field(default_factory=set)
    via_dependency: set[int] = field(default_factory=set)

    @property
    def incident_count(self) -> int:
        return len(self.direct | self.via_dependency)


def dependency_closure(depends_on: dict[int, set[int]], start: int, depth: int = 3) -> set[int]:
    """Components reachable from `start` through depends-on links, up to `depth` hops."""
    seen: set[int] = set()
    frontier = {start}
    for _ in range(depth):
        frontier = {d for c in frontier for d in depends_on.get(c, ())} - seen - {start}
        if not frontier:
            break
        seen |= frontier
    return seen


def hotspots(*, incidents: QuerySet[Incident], limit: int = 10, minimum: int = 2) -> list[Hotspot]:
    """Components ranked by how many of `incidents` they were in the blast radius of."""
    edges: dict[int, set[int]] = defaultdict(set)
    for source, target in Component.depends_on.through.objects.values_list(
        "from_component_id", "to_component_id"
    ):
        edges[source].add(target)
    found: dict[int, Hotspot] = {}
    components = Incident.components.through.objects.filter(incident__in=incidents).values_list(
        "incident_id", "component_id"
    )
    by_component = {c.pk: c for c in Component.objects.all()}
    for incident_id, component_id in components.iterator(chunk_size=5000):
        found.setdefault(component_id, Hotspot(by_component[component_id])).direct.add(incident_id)
        for dependency in dependency_closure(edges, component_id):
            found.setdefault(dependency, Hotspot(by_component[dependency])).via_dependency.add(
                incident_id
            )
    ranked = [h for h in found.values() if h.incident_count >= minimum]
    ranked.sort(key=lambda h: (-h.incident_count, h.component.name))
    return ranked[:limit]
