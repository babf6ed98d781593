"""The recurrence definition (docs/recurrence.md) on hand-made timelines: when a structure
recurs, when despite remediation, which pairs are structures, and what each reader is told."""

import datetime as dt

import pytest
from django.core.cache import cache

from incidents import services
from incidents.analysis.recurrence import (
    analyse_incident,
    hypergeometric_tail,
    pair_is_meaningful,
    recompute_all,
)
from incidents.models import ActionItem, Incident, RecurrenceMembership, RecurringStructure
from incidents.selectors import recurring_structures_for, visible_memberships, warm_reader_views
from taxonomy.models import StructuralPattern

from .factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2022, 1, 10, 9, 0, tzinfo=dt.UTC)
PATTERN = "retry-amplification"


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def incident(
    title,
    *,
    started,
    reviewed,
    patterns=(PATTERN,),
    actions=(),
    severity="sev2",
    hours=2,
    users=None,
    **fields,
) -> Incident:
    """A review of an incident that began at `started` (None: undated), written at
    `reviewed`; actions are (kind, status, done at, aimed pattern or None)."""
    content = services.ReviewContent(
        fields={
            "title": title,
            "started_at": started,
            "resolved_at": started + dt.timedelta(hours=hours) if started else None,
            "severity": severity,
            "users_affected_count": users,
            **fields,
        },
        patterns=[
            services.PatternClaim(StructuralPattern.objects.get(slug=s), "It shows it.")
            for s in patterns
        ],
        actions=[
            services.ActionEntry(
                f"{kind} {n}",
                kind=kind,
                status=status,
                completed_at=done,
                pattern=StructuralPattern.objects.get(slug=aim) if aim else None,
            )
            for n, (kind, status, done, aim) in enumerate(actions)
        ],
    )
    made = services.incident_create(by=None, content=content)
    Incident.objects.filter(pk=made.pk).update(created_at=reviewed)
    made.refresh_from_db()
    return made


def both_ways(*incidents) -> list[tuple]:
    """Analyse one by one in the order written, then recompute in full: the two agree."""
    for each in sorted(incidents, key=lambda i: i.created_at):
        analyse_incident(incident_id=each.pk)
    incremental = _state()
    recompute_all()
    assert _state() == incremental
    return incremental


def _state() -> list[tuple]:
    return sorted(
        RecurrenceMembership.objects.values_list(
            "structure__signature", "incident__title", "recurred", "previous__title",
            "after_remediation", "remediation_kinds", "remediated_from", "aimed_kinds",
        )
    )  # fmt: skip


def member(title: str, signature: str = f"pattern:{PATTERN}") -> RecurrenceMembership:
    return RecurrenceMembership.objects.get(incident__title=title, structure__signature=signature)


# --- recurs or not ------------------------------------------------------------------------------


def test_an_incident_after_the_earlier_review_existed_recurs():
    a = incident("A", started=day(0), reviewed=day(5))
    b = incident("B", started=day(40), reviewed=day(45))
    both_ways(a, b)
    structure = RecurringStructure.objects.get(signature=f"pattern:{PATTERN}")
    assert structure.kind == "pattern"
    assert structure.name == "Retry amplification"
    assert structure.recurrence_count == 1
    assert structure.last_recurred_at == day(40)
    assert not member("A").recurred
    assert member("B").recurred
    assert member("B").previous_id == a.pk
    assert not structure.recurred_despite_remediation


def test_an_incident_before_the_earlier_one_was_reviewed_does_not_recur():
    a = incident("A", started=day(0), reviewed=day(10))
    b = incident("B", started=day(3), reviewed=day(12))  # A's review did not exist yet
    both_ways(a, b)
    assert not RecurringStructure.objects.exists()


def test_an_undated_incident_never_recurs_but_its_review_can_come_first():
    undated = incident("Undated", started=None, reviewed=day(0))
    later = incident("Later", started=day(30), reviewed=day(31))
    both_ways(undated, later)
    assert member("Later").recurred
    assert member("Later").previous_id == undated.pk
    assert not member("Undated").recurred
    assert member("Undated").occurred_at is None

    RecurringStructure.objects.all().delete()
    Incident.objects.filter(title="Later").delete()
    incident("Undated too", started=None, reviewed=day(40))
    recompute_all()
    assert not RecurringStructure.objects.exists()  # two undated: neither can recur


def test_another_organisations_incident_is_no_recurrence_here():
    a = incident("Theirs", started=day(0), reviewed=day(5), organisation="Elsewhere Inc")
    b = incident("Ours", started=day(40), reviewed=day(45))
    both_ways(a, b)
    assert not RecurringStructure.objects.exists()


def test_a_review_written_elsewhere_counts_from_a_month_after_the_incident_ended():
    # Imported today, but its write-up existed long before the later incident.
    old = incident(
        "Imported", started=day(0), reviewed=day(900), external_id="elsewhere:1", hours=1
    )
    new = incident("New", started=day(60), reviewed=day(61))
    both_ways(old, new)
    assert member("New").recurred
    assert member("New").previous_id == old.pk
    assert member("Imported").reviewed_at == day(30) + dt.timedelta(hours=1)


# --- despite remediation ---------------------------------------------------------------------


def test_recurred_despite_remediation_when_the_aimed_items_were_done_first():
    a = incident(
        "A", started=day(0), reviewed=day(5),
        actions=[("component_patch", "done", day(10), PATTERN),
                 ("structural_fix", "done", day(20), None)],
    )  # fmt: skip
    b = incident("B", started=day(40), reviewed=day(45))
    both_ways(a, b)
    assert member("B").after_remediation
    assert member("B").remediation_kinds == ["component_patch", "structural_fix"]
    assert RecurringStructure.objects.get().recurred_despite_remediation


def test_not_despite_remediation_when_an_aimed_item_was_done_only_after():
    a = incident(
        "A", started=day(0), reviewed=day(5),
        actions=[("component_patch", "done", day(10), PATTERN),
                 ("structural_fix", "done", day(50), PATTERN)],
    )  # fmt: skip
    b = incident("B", started=day(40), reviewed=day(45))
    both_ways(a, b)
    assert member("B").recurred
    assert not member("B").after_remediation


def test_items_not_aimed_at_the_structure_do_not_remediate_it():
    # A component patch linked to no pattern, and one aimed at another pattern.
    a = incident(
        "A", started=day(0), reviewed=day(5),
        actions=[("component_patch", "done", day(10), None),
                 ("structural_fix", "done", day(10), "alert-fatigue")],
    )  # fmt: skip
    b = incident("B", started=day(40), reviewed=day(45))
    both_ways(a, b)
    assert member("B").recurred
    assert not member("B").after_remediation


def test_remediated_and_did_not_come_back():
    a = incident(
        "A", started=day(0), reviewed=day(5),
        actions=[("structural_fix", "done", day(10), PATTERN)],
    )  # fmt: skip
    b = incident("B", started=day(40), reviewed=day(45), patterns=["alert-fatigue"])
    both_ways(a, b)
    assert not RecurringStructure.objects.exists()


def test_an_earlier_remediated_member_counts_even_if_a_later_one_did_nothing():
    a = incident(
        "A", started=day(0), reviewed=day(5),
        actions=[("structural_fix", "done", day(10), PATTERN)],
    )  # fmt: skip
    b = incident("B", started=day(40), reviewed=day(45))
    c = incident("C", started=day(90), reviewed=day(95))
    both_ways(a, b, c)
    assert member("C").after_remediation
    assert member("C").previous_id == a.pk


# --- pairs --------------------------------------------------------------------------------------


def test_pair_rule_on_counts():
    # 100 incidents, 10 show A and 10 show B: chance puts about one in both.
    assert pair_is_meaningful(100, 10, 10, 6)
    assert not pair_is_meaningful(100, 10, 10, 2)  # below the support and the lift
    assert not pair_is_meaningful(100, 60, 60, 40)  # common patterns: lift about 1.1
    assert not pair_is_meaningful(100, 6, 10, 6)  # every A is an A+B: the set of a part
    assert hypergeometric_tail(100, 10, 10, 0) == 1.0
    assert hypergeometric_tail(100, 10, 10, 6) < 0.001


def test_a_pair_beyond_chance_is_a_structure_and_a_same_set_pair_is_not():
    other = ["alert-fatigue", "slack-erosion", "metric-myopia", "local-optimization"]
    # Five incidents show retry amplification with hidden shared dependency, each pattern
    # is also seen once alone, and the rest of the archive (24) shows other things, each
    # alone or with alert fatigue.
    for n in range(5):
        incident(f"Pair {n}", started=day(30 * n), reviewed=day(30 * n + 2),
                 patterns=[PATTERN, "hidden-shared-dependency"])  # fmt: skip
    incident("Retry alone", started=day(200), reviewed=day(202))
    incident("Hidden alone", started=day(210), reviewed=day(212),
             patterns=["hidden-shared-dependency"])  # fmt: skip
    for n in range(24):
        incident(f"Other {n}", started=day(300 + n), reviewed=day(300 + n),
                 patterns=[other[n % 4], *(["alert-fatigue"] if n % 3 == 0 else [])])  # fmt: skip
    recompute_all()
    pair = RecurringStructure.objects.get(signature=f"pair:hidden-shared-dependency+{PATTERN}")
    assert pair.kind == "pair"
    assert pair.name == "Hidden shared dependency + Retry amplification"
    assert pair.incident_count == 5
    assert pair.recurrence_count == 4
    # Alert fatigue with another pattern is no more than chance.
    assert not RecurringStructure.objects.filter(
        signature__startswith="pair:", signature__contains="alert-fatigue"
    ).exists()
    Incident.objects.filter(title="Hidden alone").delete()
    recompute_all()
    # Now every hidden shared dependency incident is a pair member: the pair is the set of
    # one of its parts, and no structure of its own.
    assert not RecurringStructure.objects.filter(signature__startswith="pair:").exists()
    assert RecurringStructure.objects.filter(signature="pattern:hidden-shared-dependency").exists()


# --- cost and what each reader is told -----------------------------------------------------------


def test_cost_and_rank():
    # SEV1 of 2 h (20 weighted hours), SEV3 of 3 h (3), unknown severity (not weighed)
    incident("A", started=day(0), reviewed=day(5), severity="sev1", hours=2, users=100)
    incident("B", started=day(40), reviewed=day(45), severity="sev3", hours=3)
    incident("C", started=day(80), reviewed=day(85), severity="unknown", users=5)
    # A cheaper structure that recurred despite remediation ranks first.
    incident(
        "X", started=day(0), reviewed=day(1), patterns=["alert-fatigue"], severity="sev4",
        actions=[("structural_fix", "done", day(2), "alert-fatigue")],
    )  # fmt: skip
    incident("Y", started=day(10), reviewed=day(11), patterns=["alert-fatigue"], severity="sev4")
    recompute_all()
    retry = RecurringStructure.objects.get(signature=f"pattern:{PATTERN}")
    assert retry.weighted_hours == 23.0
    assert retry.weighted_hours_unknown == 1
    assert retry.users_affected == 105
    assert retry.users_affected_unknown == 1
    assert retry.recurrence_count == 2
    assert retry.last_recurred_at == day(80)
    admin = UserFactory(is_superuser=True)
    ranked = list(recurring_structures_for(admin))
    assert [s.signature for s in ranked] == ["pattern:alert-fatigue", f"pattern:{PATTERN}"]
    assert ranked[1].seen.cost.weighted_hours == 23.0
    assert ranked[1].seen.cost.users_affected == 105


def test_a_reader_is_never_counted_a_restricted_incident():
    group = GroupFactory()
    insider, outsider = UserFactory(), UserFactory()
    insider.groups.add(group)
    incident("Open A", started=day(0), reviewed=day(5), severity="sev2", hours=1, users=10)
    incident(
        "Secret", started=day(40), reviewed=day(45), severity="sev1", hours=2, users=1000,
        restricted_to=group, actions=[("structural_fix", "done", day(50), PATTERN)],
    )  # fmt: skip
    incident("Open B", started=day(90), reviewed=day(95), severity="sev2", hours=1)
    recompute_all()
    stored = RecurringStructure.objects.get()
    assert stored.recurrence_count == 2
    assert stored.recurred_despite_remediation

    [theirs] = recurring_structures_for(insider)
    assert theirs.seen.recurrence_count == 2
    assert theirs.seen.despite_remediation
    assert theirs.seen.cost.users_affected == 1010

    [mine] = recurring_structures_for(outsider)
    seen = mine.seen
    assert seen.incident_count == 2
    assert seen.recurrence_count == 1
    assert seen.last_recurred_at == day(90)
    assert not seen.despite_remediation  # the secret's done items are not theirs
    assert seen.cost.weighted_hours == 8.0  # two SEV2 hours, not the secret's SEV1
    assert seen.cost.users_affected == 10
    assert seen.cost.users_affected_unknown == 1
    members = {m.incident.title: m for m in visible_memberships(mine).select_related("incident")}
    assert set(members) == {"Open A", "Open B"}
    b = seen.link(members["Open B"])
    assert b.recurred
    assert not b.after_remediation
    assert b.previous_id == Incident.objects.get(title="Open A").pk
    # The same answer again, from the cache, and a different one once the secret is shared.
    assert recurring_structures_for(outsider)[0].seen == seen
    outsider.groups.add(group)
    assert recurring_structures_for(outsider)[0].seen.recurrence_count == 2
    outsider.groups.remove(group)

    # Without the first open review, only the secret makes it recur: not listed at all.
    Incident.objects.filter(title="Open A").delete()
    recompute_all()
    assert RecurringStructure.objects.exists()
    assert recurring_structures_for(outsider) == []


def test_a_readers_view_follows_what_changes_after_it_was_cached():
    group = GroupFactory()
    outsider = UserFactory()
    first = incident("Open A", started=day(0), reviewed=day(5))
    incident(
        "Secret", started=day(40), reviewed=day(45), restricted_to=group,
        actions=[("structural_fix", "done", day(50), PATTERN)],
    )  # fmt: skip
    incident("Open B", started=day(90), reviewed=day(95))
    recompute_all()
    [mine] = recurring_structures_for(outsider)
    assert not mine.seen.despite_remediation  # only the secret's fix was done

    # The first open review's structural fix is done before B began: B now came back
    # despite remediation, for the outsider too (the structure has a new version).
    ActionItem.objects.create(
        incident=first, title="Own every expiry", kind="structural_fix", status="done",
        completed_at=day(60), pattern=StructuralPattern.objects.get(slug=PATTERN),
    )  # fmt: skip
    analyse_incident(incident_id=first.pk)
    [mine] = recurring_structures_for(outsider)
    assert mine.seen.despite_remediation
    b = RecurrenceMembership.objects.get(incident__title="Open B")
    assert mine.seen.link(b).previous_id == first.pk

    # The secret is made public: the outsider now counts it (what is hidden changed).
    Incident.objects.filter(title="Secret").update(restricted_to=None)
    [mine] = recurring_structures_for(outsider)
    assert mine.seen.incident_count == 3


def test_after_the_warm_up_a_reader_in_no_group_waits_for_no_judging(
    django_assert_num_queries,
):
    group = GroupFactory()
    outsider = UserFactory()
    incident("Open A", started=day(0), reviewed=day(5))
    incident("Secret", started=day(40), reviewed=day(45), restricted_to=group)
    incident("Open B", started=day(90), reviewed=day(95))
    recompute_all()
    cache.clear()
    assert warm_reader_views() == 1
    # The structures, their patterns, the members hidden from the outsider: nothing judged.
    with django_assert_num_queries(3):
        [mine] = recurring_structures_for(outsider)
    assert mine.seen.incident_count == 2
    assert mine.seen.link(member("Open B")).previous_id == Incident.objects.get(title="Open A").pk
