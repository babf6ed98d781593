"""The "My action items" and "Overdue" pages, and marking an item done from them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents.models import ActionItem, RecurrenceMembership, RecurringStructure
from taxonomy.models import LeverageLevel, StructuralPattern

from .actions_helpers import GroupFactory, days, editor, item, person, review_with, stored

pytestmark = pytest.mark.django_db


def _titles(response) -> list[str]:
    return [row[0].title for row in response.context["rows"]]


def test_my_items_are_mine_and_my_teams_open_first_soonest_due_first(client):
    me, other = person("me"), person("other")
    sre = GroupFactory(name="sre")
    me.groups.add(sre)
    review_with(
        item("Later", owner_user=me, due=days(9)),
        item("Team's", owner_team=sre, due=days(2)),
        item("Done already", owner_user=me, status="done", due=days(-30)),
        item("Undated", owner_user=me),
        item("Someone else's", owner_user=other, due=days(1)),
        item("Overdue", owner_user=me, due=days(-3)),
    )
    client.force_login(me)
    response = client.get(reverse("actions:mine"))
    assert response.status_code == 200
    assert _titles(response) == ["Overdue", "Team's", "Later", "Undated", "Done already"]
    page = response.content.decode()
    assert "Someone else&#x27;s" not in page
    assert "Someone else's" not in page
    assert "Overdue since" in page


def test_overdue_lists_every_visible_late_item_and_mine_only_narrows_it(client):
    me, other = person("me"), person("other")
    review_with(
        item("Mine late", owner_user=me, due=days(-1)),
        item("Theirs late", owner_user=other, due=days(-5)),
        item("Nobody's late", due=days(-2)),
        item("Late but done", owner_user=me, due=days(-2), status="done"),
        item("Not yet due", owner_user=me, due=days(1)),
        item("Due today", owner_user=me, due=days(0)),
    )
    client.force_login(me)
    everything = client.get(reverse("actions:overdue"))
    assert _titles(everything) == ["Theirs late", "Nobody's late", "Mine late"]
    mine = client.get(reverse("actions:overdue"), {"mine": "true"})
    assert _titles(mine) == ["Mine late"]


def test_restricted_reviews_never_show_to_outsiders_in_lists_counts_or_filters(client):
    secret = GroupFactory(name="secret-team")
    insider, outsider = person("insider"), person("outsider")
    insider.groups.add(secret)
    pattern = StructuralPattern.objects.order_by("slug").first()
    hidden = review_with(
        item("Hidden late", owner_user=outsider, due=days(-4)),
        title="Confidential breach",
        restricted_to=secret,
    )
    structure = RecurringStructure.objects.create(
        signature="secret-only", name="Secret structure", pattern=pattern
    )
    RecurrenceMembership.objects.create(structure=structure, incident=hidden)
    for viewer, sees in ((outsider, False), (insider, True)):
        client.force_login(viewer)
        for url, params in (
            (reverse("actions:mine"), {}),
            (reverse("actions:overdue"), {}),
            (reverse("actions:overdue"), {"structure": structure.pk}),
        ):
            page = client.get(url, params)
            html = page.content.decode()
            assert ("Hidden late" in html) == (sees and "overdue" in url), (viewer, url)
            if not sees:
                assert "Confidential breach" not in html
                assert "Secret structure" not in html
                assert page.context["page"].paginator.count == 0


def test_filters_by_structure_and_leverage_level(client):
    me = person("me")
    levels = list(LeverageLevel.objects.order_by("number")[:2])
    pattern = StructuralPattern.objects.order_by("slug").first()
    in_structure = review_with(
        item("A", owner_user=me, leverage_level=levels[0]),
        item("B", owner_user=me, leverage_level=levels[1]),
    )
    review_with(item("C", owner_user=me, leverage_level=levels[0]))
    structure = RecurringStructure.objects.create(
        signature="s1", name="Config pushed everywhere", pattern=pattern
    )
    RecurrenceMembership.objects.create(structure=structure, incident=in_structure)
    client.force_login(me)
    url = reverse("actions:mine")
    assert _titles(client.get(url, {"structure": structure.pk})) == ["A", "B"]
    assert _titles(client.get(url, {"leverage": levels[0].slug})) == ["A", "C"]
    both = client.get(url, {"structure": structure.pk, "leverage": levels[0].slug})
    assert _titles(both) == ["A"]
    # The form offers the structure; a bad value is named, not a 500.
    assert "Config pushed everywhere" in client.get(url).content.decode()
    bad = client.get(url, {"structure": "x", "leverage": "nope"})
    assert bad.status_code == 200
    assert bad.context["errors"]
    assert "could not be used" in bad.content.decode()


def test_the_list_pages_cost_the_same_queries_for_many_items(client, django_assert_max_num_queries):
    me = person("me")
    sre = GroupFactory(name="sre")
    me.groups.add(sre)
    reviewer = person("rev")

    def add(n: int) -> None:
        for i in range(n):
            incident = review_with(
                item(f"Mine {i}", owner_user=me, due=days(-1 - i)),
                item(f"Team {i}", owner_team=sre, due=days(-1)),
            )
            incident.reviewers.add(reviewer)

    add(2)
    client.force_login(me)
    for url in (reverse("actions:mine"), reverse("actions:overdue")):
        client.get(url)  # warm the session
        with django_assert_max_num_queries(14):
            assert client.get(url).status_code == 200
    add(10)
    for url in (reverse("actions:mine"), reverse("actions:overdue")):
        with django_assert_max_num_queries(14):
            assert len(client.get(url).context["rows"]) == 24


# --- Marking done ------------------------------------------------------------------------


@pytest.fixture
def cast(db):
    """Everyone whose right to close an item differs, around one item of a restricted review."""
    team = GroupFactory(name="payments")
    author, reviewer, owner, member, plain, outsider = (
        person(n) for n in ("author", "reviewer", "owner", "member", "plain", "outsider")
    )
    the_editor = editor()
    for user in (author, reviewer, owner, member, plain, the_editor):
        user.groups.add(team)
    incident = review_with(
        item("Add a fallback", owner_user=owner, due=days(-1)),
        item("Team work", owner_team=GroupFactory(name="oncall"), due=days(-1)),
        by=author,
        restricted_to=team,
    )
    member.groups.add(incident.action_items.get(title="Team work").owner_team)
    incident.reviewers.add(reviewer)
    return {
        "incident": incident,
        "author": author,
        "reviewer": reviewer,
        "editor": the_editor,
        "owner": owner,
        "member": member,
        "plain": plain,
        "outsider": outsider,
    }


# Who may close "Add a fallback" (owned by `owner`) and "Team work" (owned by the team that
# `member` is in): the answer each gets, web and API alike.
CLOSE_RULES = [
    ("author", "Add a fallback", True),
    ("reviewer", "Add a fallback", True),
    ("editor", "Add a fallback", True),
    ("owner", "Add a fallback", True),
    ("member", "Team work", True),
    ("member", "Add a fallback", False),
    ("owner", "Team work", False),
    ("plain", "Add a fallback", False),
    ("outsider", "Add a fallback", None),  # cannot see the review: not found
]


@pytest.mark.parametrize(("who", "title", "allowed"), CLOSE_RULES)
def test_who_may_mark_an_item_done_in_the_pages(client, cast, who, title, allowed):
    target = stored(cast["incident"], title)
    client.force_login(cast[who])
    response = client.post(
        reverse("actions:close", args=[target.pk]), {"next": reverse("actions:overdue")}
    )
    after = ActionItem.objects.get(pk=target.pk)
    if allowed:
        assert response.status_code == 302
        assert response.url == reverse("actions:overdue")
        assert after.status == "done"
        assert after.closed_by == cast[who]
        assert after.completed_at is not None
    else:
        assert response.status_code == (404 if allowed is None else 403)
        assert after.status == "open"
        assert after.closed_by is None


def test_the_button_shows_only_to_those_who_may_close(client, cast):
    for who, shown in (("owner", True), ("plain", False)):
        client.force_login(cast[who])
        page = client.get(reverse("actions:overdue")).content.decode()
        closes = reverse("actions:close", args=[stored(cast["incident"], "Add a fallback").pk])
        assert (closes in page) is shown


def test_marking_done_keeps_a_revision_and_refuses_a_foreign_next(client, cast):
    target = stored(cast["incident"], "Add a fallback")
    client.force_login(cast["owner"])
    response = client.post(
        reverse("actions:close", args=[target.pk]), {"next": "https://evil.example/"}
    )
    assert response.url == reverse("actions:mine")
    latest = cast["incident"].revisions.order_by("-version").first()
    assert "Add a fallback" in latest.note
    assert latest.created_by == cast["owner"]
    assert (
        client.post(reverse("actions:close", args=[target.pk]), {"status": "x"}).status_code == 400
    )
    assert client.get(reverse("actions:close", args=[target.pk])).status_code == 405


def test_pages_need_a_login(client):
    for name in ("actions:mine", "actions:overdue"):
        assert client.get(reverse(name)).status_code == 302
