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

    incident_count: int = 0

    def __post_init__(self) -> None:
        self.incident_count = len(self.direct | self.via_dependency)


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
    direct: dict[int, set[int]] = defaultdict(set)
    for incident_id, component_id in Incident.components.through.objects.filter(
        incident__in=incidents
    ).values_list("incident_id", "component_id"):
        direct[component_id].add(incident_id)
    # Who reaches each component through a dependency: each component's dependencies are
    # walked once (an archive names the same few thousand components in a hundred thousand
    # reviews).
    reached_from: dict[int, list[int]] = defaultdict(list)
    for component_id in direct:
        for dependency in dependency_closure(edges, component_id):
            reached_from[dependency].append(component_id)

    def exact(pk: int) -> Hotspot:
        via: set[int] = set()
        for source in reached_from.get(pk, ()):
            via.update(direct[source])
        return Hotspot(Component(pk=pk), direct.get(pk, set()), via)

    # Only the top of the ranking is shown: count exactly in order of an upper bound (its
    # own incidents plus every incident of what reaches it), and stop once no bound left
    # can beat the last place.
    bound = {
        pk: len(direct.get(pk, ())) + sum(len(direct[s]) for s in reached_from.get(pk, ()))
        for pk in set(direct) | set(reached_from)
    }
    ranked: list[Hotspot] = []
    for pk in sorted(bound, key=lambda pk: -bound[pk]):
        if len(ranked) >= limit and bound[pk] < ranked[limit - 1].incident_count:
            break
        if bound[pk] < minimum:
            break
        spot = exact(pk)
        if spot.incident_count >= minimum:
            ranked.append(spot)
            ranked.sort(key=lambda h: -h.incident_count)
    names = Component.objects.in_bulk([h.component.pk for h in ranked])
    for spot in ranked:
        spot.component = names[spot.component.pk]
    ranked.sort(key=lambda h: (-h.incident_count, h.component.name))
    return ranked[:limit]
