"""GET /api/v1/action-items/ and POST /api/v1/action-items/{id}/close/."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from incidents.models import ActionItem, RecurrenceMembership, RecurringStructure
from taxonomy.models import LeverageLevel, StructuralPattern

from .actions_helpers import GroupFactory, days, item, person, review_with, stored
from .conftest import token_client
from .test_actions_pages import CLOSE_RULES, cast  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db


def _titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["title"] for row in response.json()["results"]]


def test_the_list_filters_mine_overdue_status_structure_and_leverage():
    me, other = person("me"), person("other")
    levels = list(LeverageLevel.objects.order_by("number")[:2])
    first = review_with(
        item("Mine late", owner_user=me, due=days(-2), leverage_level=levels[0]),
        item("Mine soon", owner_user=me, due=days(3), leverage_level=levels[1]),
        item("Mine done", owner_user=me, status="done"),
    )
    review_with(item("Theirs late", owner_user=other, due=days(-9)))
    structure = RecurringStructure.objects.create(
        signature="s", name="S", pattern=StructuralPattern.objects.first()
    )
    RecurrenceMembership.objects.create(structure=structure, incident=first)
    api = token_client(me, "read")
    url = "/api/v1/action-items/"
    assert _titles(api.get(url)) == ["Theirs late", "Mine late", "Mine soon", "Mine done"]
    assert _titles(api.get(url, {"mine": "true"})) == ["Mine late", "Mine soon", "Mine done"]
    assert _titles(api.get(url, {"mine": "false"})) == ["Theirs late"]
    assert _titles(api.get(url, {"overdue": "true"})) == ["Theirs late", "Mine late"]
    assert _titles(api.get(url, {"overdue": "true", "mine": "true"})) == ["Mine late"]
    assert _titles(api.get(url, {"status": "done"})) == ["Mine done"]
    assert _titles(api.get(url, {"structure": structure.pk})) == [
        "Mine late", "Mine soon", "Mine done",
    ]  # fmt: skip
    assert _titles(api.get(url, {"structure": 999_999})) == []
    assert _titles(api.get(url, {"leverage": levels[1].slug})) == ["Mine soon"]
    row = api.get(url, {"overdue": "true", "mine": "true"}).json()["results"][0]
    assert row["overdue"] is True
    assert row["owner_user"] == "me"
    assert row["review_url"].endswith(first.get_absolute_url())
    assert row["incident"] == first.pk
    assert row["url"].endswith(f"/api/v1/action-items/{row['id']}/")


@pytest.mark.parametrize(
    "query",
    [
        {"mine": "maybe"},
        {"overdue": ""},
        {"status": "finished"},
        {"structure": "abc"},
        {"structure": "0"},
        {"structure": str(2**40)},
        {"leverage": "no-such-level"},
        {"page": "0"},
        {"page_size": "1000"},
    ],
)
def test_bad_filters_answer_400_or_404_in_the_house_shape(query):
    api = token_client(person("me"), "read")
    response = api.get("/api/v1/action-items/", query)
    assert response.status_code in (400, 404), response.content
    assert set(response.json()["error"]) >= {"status", "code", "message"}


def test_restricted_items_do_not_exist_for_outsiders():
    secret = GroupFactory(name="secret")
    insider, outsider = person("insider"), person("outsider")
    insider.groups.add(secret)
    incident = review_with(item("Hidden", owner_user=outsider, due=days(-1)), restricted_to=secret)
    hidden = stored(incident, "Hidden")
    outside = token_client(outsider, "write")
    assert _titles(outside.get("/api/v1/action-items/")) == []
    assert _titles(outside.get("/api/v1/action-items/", {"mine": "true"})) == []
    assert outside.get(f"/api/v1/action-items/{hidden.pk}/").status_code == 404
    assert outside.post(f"/api/v1/action-items/{hidden.pk}/close/").status_code == 404
    assert ActionItem.objects.get(pk=hidden.pk).status == "open"
    inside = token_client(insider, "read")
    assert _titles(inside.get("/api/v1/action-items/")) == ["Hidden"]


def test_the_list_costs_the_same_queries_for_many_items(django_assert_max_num_queries):
    me, reviewer = person("me"), person("rev")

    def add(n: int) -> None:
        for i in range(n):
            review_with(item(f"Item {i}", owner_user=me, due=days(-i))).reviewers.add(reviewer)

    add(2)
    api = token_client(me, "read")
    with django_assert_max_num_queries(8):
        assert len(api.get("/api/v1/action-items/", {"mine": "true"}).json()["results"]) == 2
    add(20)
    with django_assert_max_num_queries(8):
        assert len(api.get("/api/v1/action-items/", {"mine": "true"}).json()["results"]) == 22


@pytest.mark.parametrize(("who", "title", "allowed"), CLOSE_RULES)
def test_who_may_close_an_item_through_the_api(cast, who, title, allowed):  # noqa: F811
    target = stored(cast["incident"], title)
    response = token_client(cast[who], "write").post(
        f"/api/v1/action-items/{target.pk}/close/", {"status": "wont_do"}, format="json"
    )
    after = ActionItem.objects.get(pk=target.pk)
    if allowed:
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["status"] == "wont_do"
        assert body["closed_by"] == cast[who].username
        assert body["completed_at"] is not None
        assert after.closed_by == cast[who]
    else:
        assert response.status_code == (404 if allowed is None else 403), response.content
        assert response.json()["error"]["code"] in ("not_found", "permission_denied")
        assert after.status == "open"
        assert after.closed_by is None


def test_a_read_token_reads_but_may_not_close(cast):  # noqa: F811
    target = stored(cast["incident"], "Add a fallback")
    api = token_client(cast["owner"], "read")
    assert api.get(f"/api/v1/action-items/{target.pk}/").status_code == 200
    response = api.post(f"/api/v1/action-items/{target.pk}/close/", {}, format="json")
    assert response.status_code == 403
    assert "read scope" in response.json()["error"]["message"]
    assert ActionItem.objects.get(pk=target.pk).status == "open"


def test_closing_twice_is_one_change_and_a_bad_body_is_400(cast):  # noqa: F811
    target = stored(cast["incident"], "Add a fallback")
    api = token_client(cast["owner"], "write")
    url = f"/api/v1/action-items/{target.pk}/close/"
    assert api.post(url, {"status": "later"}, format="json").status_code == 400
    assert api.post(url, {"colour": "red"}, format="json").status_code == 400
    versions = cast["incident"].revisions.count()
    assert api.post(url, {}, format="json").json()["status"] == "done"
    assert api.post(url, {}, format="json").status_code == 200
    assert cast["incident"].revisions.count() == versions + 1


def test_anonymous_requests_are_401():
    assert APIClient().get("/api/v1/action-items/").status_code == 401


def test_the_schema_documents_the_endpoints():
    api = token_client(person("me"), "read")
    schema = api.get("/api/schema/", {"format": "json"}, HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/action-items/{id}/close/" in text
    for name in ("mine", "overdue", "structure", "leverage"):
        assert f'"name":"{name}"' in text.replace(" ", "") or f"name: {name}" in text
