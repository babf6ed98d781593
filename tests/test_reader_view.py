"""A reader's view of a structure (`incidents.selectors._judge`) judges again only the
members whose stored "previous" is hidden from them. On random timelines, that shortcut
must agree with judging every member the reader may see from scratch."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from incidents.analysis.recurrence import Member, link_members
from incidents.selectors import _judge

T0 = datetime(2023, 1, 1, tzinfo=UTC)


def _timeline(rng: random.Random) -> list[Member]:
    members = []
    for pk in range(1, rng.randint(2, 40)):
        began = T0 + timedelta(days=rng.randint(0, 400)) if rng.random() > 0.1 else None
        reviewed = (began or T0) + timedelta(days=rng.randint(0, 30))
        fixed = reviewed + timedelta(days=rng.randint(0, 90)) if rng.random() < 0.3 else None
        members.append(
            Member(pk=pk, organisation=rng.choice(["a", "b"]), occurred_at=began,
                   reviewed_at=reviewed, remediated_from=fixed)
        )  # fmt: skip
    return members


@pytest.mark.parametrize("seed", range(300))
def test_judging_only_members_whose_previous_is_hidden_agrees_with_judging_all(seed):
    rng = random.Random(seed)
    members = _timeline(rng)
    stored = link_members(members)
    hidden = frozenset(m.pk for m in members if rng.random() < 0.25)
    visible = [m for m in members if m.pk not in hidden]
    rows = [
        (m.pk, m.organisation, m.occurred_at, m.reviewed_at, m.remediated_from, 1.0, None,
         stored[m.pk].previous, stored[m.pk].recurred, stored[m.pk].after_remediation)
        for m in visible
    ]  # fmt: skip
    seen = _judge(rows, hidden)
    truth = link_members(visible)
    for m in visible:
        link = seen.changed.get(m.pk)
        got = (
            (link.previous_id, link.recurred, link.after_remediation)
            if link is not None
            else (stored[m.pk].previous, stored[m.pk].recurred, stored[m.pk].after_remediation)
        )
        want = (truth[m.pk].previous, truth[m.pk].recurred, truth[m.pk].after_remediation)
        assert got == want, (seed, m.pk)
    assert seen.recurrence_count == sum(1 for m in visible if truth[m.pk].recurred)
    assert seen.despite_remediation == any(truth[m.pk].after_remediation for m in visible)
    assert seen.incident_count == len(visible)
