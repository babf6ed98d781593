"""The people API: the list for admins, `me` for everyone, and their schema."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from people.models import Role

from .conftest import token_client
from .factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_admins_list_people_with_role_and_teams():
    sam = UserFactory(username="sam", email="sam@example.com", first_name="Sam", last_name="Lee",
                      role=Role.REVIEWER)  # fmt: skip
    sam.groups.add(GroupFactory(name="payments"))
    api = token_client(UserFactory(username="ada", role=Role.ADMIN), "read")
    answer = api.get("/api/v1/people/")
    assert answer.status_code == 200
    rows = {row["username"]: row for row in answer.json()["results"]}
    assert rows["sam"] == {
        **rows["sam"], "name": "Sam Lee", "email": "sam@example.com", "role": "reviewer",
        "teams": ["payments"], "is_active": True, "is_superuser": False,
    }  # fmt: skip
    assert rows["ada"]["role"] == "admin"
    one = api.get(f"/api/v1/people/{sam.pk}/")
    assert one.status_code == 200
    assert one.json()["username"] == "sam"
    assert api.get("/api/v1/people/99999999/").status_code == 404
    assert api.get("/api/v1/people/99999999999999999999/").status_code == 404


@pytest.mark.parametrize("role", [Role.READER, Role.AUTHOR, Role.REVIEWER])
def test_others_may_not_list_people_but_see_themselves(role):
    me = UserFactory(username="kim", role=role)
    me.groups.add(GroupFactory(name="sre"))
    api = token_client(me, "read")
    refused = api.get("/api/v1/people/")
    assert refused.status_code == 403
    assert "Only admins" in refused.json()["error"]["message"]
    assert api.get(f"/api/v1/people/{me.pk}/").status_code == 403
    mine = api.get("/api/v1/people/me/")
    assert mine.status_code == 200
    assert mine.json()["username"] == "kim"
    assert mine.json()["role"] == role.value
    assert mine.json()["teams"] == ["sre"]


def test_anonymous_requests_are_401():
    for url in ("/api/v1/people/", "/api/v1/people/me/"):
        assert APIClient().get(url).status_code == 401


def test_the_list_asks_a_fixed_number_of_queries(django_assert_max_num_queries):
    for n in range(40):
        UserFactory(username=f"person{n}").groups.add(GroupFactory(name=f"team{n % 5}"))
    api = token_client(UserFactory(username="ada", role=Role.ADMIN), "read")
    api.get("/api/v1/people/")
    with django_assert_max_num_queries(8):
        answer = api.get("/api/v1/people/")
    assert answer.json()["count"] == 41


def test_the_schema_describes_the_people_endpoints(read_api):
    schema = read_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    assert set(paths["/api/v1/people/"]["get"]["responses"]) >= {"200", "401", "403"}
    assert set(paths["/api/v1/people/me/"]["get"]["responses"]) >= {"200", "401"}
    assert "404" in paths["/api/v1/people/{id}/"]["get"]["responses"]
    person = schema["components"]["schemas"]["Person"]["properties"]
    assert person["role"]["nullable"] is True
