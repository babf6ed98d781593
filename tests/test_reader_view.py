"""A reader's view of a structure (`incidents.selectors`) judges again, in SQL, only the
members whose stored "previous" is hidden from them. On random timelines it must agree with
the analysis's own rule (`link_members`) applied from scratch to the members they may see."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from incidents.analysis.recurrence import Member, link_members
from incidents.models import Incident, RecurrenceMembership, RecurringStructure
from incidents.selectors import seen_structures
from taxonomy.models import StructuralPattern

from .factories import GroupFactory, IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2023, 1, 1, tzinfo=UTC)


def _timeline(rng: random.Random, group) -> tuple[list[Member], set[int]]:
    members, hidden = [], set()
    for _ in range(rng.randint(2, 25)):
        began = T0 + timedelta(days=rng.randint(0, 400)) if rng.random() > 0.1 else None
        secret = rng.random() < 0.25
        incident = IncidentFactory(
            organisation=rng.choice(["Acme", "Globex"]), started_at=began,
            restricted_to=group if secret else None,
        )  # fmt: skip
        reviewed = (began or T0) + timedelta(days=rng.randint(0, 30))
        fixed = reviewed + timedelta(days=rng.randint(0, 90)) if rng.random() < 0.3 else None
        kinds = ("structural_fix",) if fixed else ()
        members.append(
            Member(pk=incident.pk, organisation=incident.organisation, occurred_at=began,
                   reviewed_at=reviewed, remediated_from=fixed, aimed_kinds=kinds)
        )  # fmt: skip
        if secret:
            hidden.add(incident.pk)
    if not hidden:  # a reader who sees every member is shown the stored figures instead
        Incident.objects.filter(pk=members[0].pk).update(restricted_to=group)
        hidden.add(members[0].pk)
    return members, hidden


@pytest.mark.parametrize("seed", range(40))
def test_judging_in_sql_agrees_with_judging_every_visible_member(seed):
    rng = random.Random(seed)
    group = GroupFactory()
    members, hidden = _timeline(rng, group)
    stored = link_members(members)
    structure = RecurringStructure.objects.create(
        signature=f"pattern:test-{seed}", pattern=StructuralPattern.objects.first(),
        recurrence_count=1,
    )  # fmt: skip
    RecurrenceMembership.objects.bulk_create(
        RecurrenceMembership(
            structure=structure, incident_id=m.pk, occurred_at=m.occurred_at,
            reviewed_at=m.reviewed_at, previous_id=stored[m.pk].previous,
            recurred=stored[m.pk].recurred, after_remediation=stored[m.pk].after_remediation,
            remediation_kinds=stored[m.pk].kinds, remediated_from=m.remediated_from,
            aimed_kinds=list(m.aimed_kinds), weighted_hours=1.5,
        )
        for m in members
    )  # fmt: skip
    cache.clear()
    outsider = UserFactory()
    seen = seen_structures(outsider, [structure])[structure.pk]

    visible = [m for m in members if m.pk not in hidden]
    truth = link_members(visible)
    rows = {r.incident_id: r for r in structure.memberships.all()}
    for m in visible:
        link = seen.link(rows[m.pk])
        want = truth[m.pk]
        assert (link.previous_id, link.recurred, link.after_remediation, list(link.kinds)) == (
            want.previous, want.recurred, want.after_remediation, want.kinds,
        ), (seed, m.pk)  # fmt: skip
    assert seen.incident_count == len(visible)
    assert seen.recurrence_count == sum(1 for m in visible if truth[m.pk].recurred)
    assert seen.despite_remediation == any(truth[m.pk].after_remediation for m in visible)
    came_back = [m.occurred_at for m in visible if truth[m.pk].recurred]
    assert seen.last_recurred_at == max(came_back, default=None)
    assert seen.cost.weighted_hours == round(1.5 * len(visible), 1)
