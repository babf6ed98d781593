"""The people and teams pages: who may open them, what they change, and their guards."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from incidents.models import ApiToken
from people.models import Role
from people.roles import group_name, role_of

from .conftest import token_client
from .factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db):
    """A browser session of an admin, apart from the `client` fixture's."""
    admin = UserFactory(username="ada", role=Role.ADMIN)
    browser = Client()
    browser.force_login(admin)
    browser.admin = admin
    return browser


def pages(target, team) -> list[tuple[str, str]]:
    return [
        ("get", reverse("people:list")),
        ("get", reverse("people:detail", args=[target.pk])),
        ("post", reverse("people:role", args=[target.pk])),
        ("post", reverse("people:deactivate", args=[target.pk])),
        ("post", reverse("people:reactivate", args=[target.pk])),
        ("get", reverse("people:teams")),
        ("get", reverse("people:team", args=[team.pk])),
        ("post", reverse("people:team_remove", args=[team.pk, target.pk])),
        ("get", reverse("people:invite")),
    ]


@pytest.mark.parametrize("role", [Role.READER, Role.AUTHOR, Role.REVIEWER])
def test_only_admins_open_the_people_pages(client, role):
    target, team = UserFactory(role=Role.AUTHOR), GroupFactory(name="sre")
    target.groups.add(team)
    client.force_login(UserFactory(role=role))
    for method, url in pages(target, team):
        answer = getattr(client, method)(url, {"role": "admin"} if method == "post" else None)
        assert answer.status_code == 403, url
        assert "Only admins" in answer.content.decode()
    assert role_of(target) == Role.AUTHOR
    assert target.groups.filter(pk=team.pk).exists()


def test_anonymous_visitors_are_sent_to_log_in(client):
    target, team = UserFactory(), GroupFactory(name="sre")
    for method, url in pages(target, team):
        answer = getattr(client, method)(url)
        assert answer.status_code == 302, url
        assert answer["Location"].startswith(reverse("login"))


def test_admins_and_superusers_open_them(admin_client):
    target, team = UserFactory(), GroupFactory(name="sre")
    for url in (reverse("people:list"), reverse("people:detail", args=[target.pk]),
                reverse("people:teams"), reverse("people:team", args=[team.pk]),
                reverse("people:invite")):  # fmt: skip
        assert admin_client.get(url).status_code == 200, url
    admin_client.force_login(UserFactory(role=Role.READER, is_superuser=True))
    assert admin_client.get(reverse("people:list")).status_code == 200


def test_the_people_link_is_in_the_menu_for_admins_only(admin_client, client):
    assert 'href="/people/"' in admin_client.get(reverse("incidents:list")).content.decode()
    client.force_login(UserFactory(role=Role.AUTHOR))
    assert 'href="/people/"' not in client.get(reverse("incidents:list")).content.decode()


def test_the_list_shows_each_persons_role_teams_and_state(admin_client):
    sam = UserFactory(username="sam", email="sam@example.com", role=Role.REVIEWER)
    sam.groups.add(GroupFactory(name="payments"))
    UserFactory(username="gone", is_active=False, role=Role.READER)
    page = admin_client.get(reverse("people:list")).content.decode()
    row = page[page.index(">sam<") :].split("</tr>")[0]
    assert "sam@example.com" in row
    assert "Reviewer" in row
    assert "payments" in row
    assert "Role:" not in row  # the role's group is not shown as a team
    gone = page[page.index(">gone<") :].split("</tr>")[0]
    assert "deactivated" in gone
    assert "Reader" in gone


def test_the_list_searches(admin_client):
    UserFactory(username="sam", email="sam@example.com")
    UserFactory(username="kim")
    page = admin_client.get(reverse("people:list"), {"q": "EXAMPLE.com"}).content.decode()
    assert ">sam<" in page
    assert ">kim<" not in page


def test_the_list_asks_a_fixed_number_of_queries(admin_client, django_assert_max_num_queries):
    for n in range(30):
        person = UserFactory(username=f"person{n}")
        person.groups.add(GroupFactory(name=f"team{n % 4}"))
    admin_client.get(reverse("people:list"))  # warm the session
    # Session, user, permissions (2), count, page, groups; the menu's own few.
    with django_assert_max_num_queries(12):
        page = admin_client.get(reverse("people:list"))
    assert page.content.decode().count("<tr>") == 32  # the header and 31 people


def test_changing_a_role(admin_client):
    sam = UserFactory(username="sam")
    answer = admin_client.post(reverse("people:role", args=[sam.pk]), {"role": "reviewer"})
    assert answer.status_code == 302
    assert role_of(sam) == Role.REVIEWER
    bad = admin_client.post(reverse("people:role", args=[sam.pk]), {"role": "overlord"})
    assert bad.status_code == 400
    assert "Select a valid choice" in bad.content.decode()
    assert role_of(sam) == Role.REVIEWER


def test_nobody_changes_their_own_role_or_deactivates_themselves(admin_client):
    ada = admin_client.admin
    own = admin_client.post(reverse("people:role", args=[ada.pk]), {"role": "reader"})
    assert own.status_code == 409
    assert "your own role" in own.content.decode()
    gone = admin_client.post(reverse("people:deactivate", args=[ada.pk]))
    assert gone.status_code == 409
    assert "deactivate yourself" in gone.content.decode()
    ada.refresh_from_db()
    assert role_of(ada) == Role.ADMIN
    assert ada.is_active


def test_the_last_admin_can_be_neither_demoted_nor_deactivated(client):
    ada = UserFactory(username="ada", role=Role.ADMIN)
    # Someone granted the permission by hand (not the Admin role) can manage people too.
    helper = UserFactory(username="helper", role=Role.AUTHOR)
    helper.user_permissions.add(
        Permission.objects.get(content_type__app_label="people", codename="manage_people")
    )
    client.force_login(helper)
    demoted = client.post(reverse("people:role", args=[ada.pk]), {"role": "author"})
    assert demoted.status_code == 409
    assert "last admin" in demoted.content.decode()
    assert client.post(reverse("people:deactivate", args=[ada.pk])).status_code == 409
    ada.refresh_from_db()
    assert role_of(ada) == Role.ADMIN
    assert ada.is_active
    # With a second admin, either may go.
    UserFactory(username="bob", role=Role.ADMIN)
    assert client.post(reverse("people:deactivate", args=[ada.pk])).status_code == 302
    ada.refresh_from_db()
    assert not ada.is_active


def test_a_non_superuser_admin_cannot_deactivate_a_superuser(admin_client):
    root = UserFactory(username="root", is_superuser=True)
    answer = admin_client.post(reverse("people:deactivate", args=[root.pk]))
    assert answer.status_code == 409
    assert "Only a superuser" in answer.content.decode()
    assert get_user_model().objects.get(pk=root.pk).is_active


def test_deactivating_blocks_password_login_sessions_and_api_tokens(admin_client, client):
    sam = UserFactory(username="sam")
    api = token_client(sam, "read")
    assert api.get("/api/v1/incidents/").status_code == 200
    session = Client()
    session.force_login(sam)
    assert session.get(reverse("incidents:list")).status_code == 200

    answer = admin_client.post(reverse("people:deactivate", args=[sam.pk]), follow=True)
    assert "can no longer log in" in answer.content.decode()

    refused = api.get("/api/v1/incidents/")
    assert refused.status_code == 401
    assert "inactive" in refused.json()["error"]["message"]
    assert session.get(reverse("incidents:list")).status_code == 302  # logged out
    login = client.post(
        reverse("login"), {"username": "sam", "password": "correct horse battery staple"}
    )
    assert login.status_code == 200
    assert "_auth_user_id" not in client.session
    assert ApiToken.objects.filter(user=sam).exists()  # kept: reactivating restores it

    admin_client.post(reverse("people:reactivate", args=[sam.pk]))
    assert api.get("/api/v1/incidents/").status_code == 200
    login = client.post(
        reverse("login"), {"username": "sam", "password": "correct horse battery staple"}
    )
    assert login.status_code == 302


def test_teams_create_add_and_remove(admin_client):
    sam = UserFactory(username="sam")
    made = admin_client.post(reverse("people:teams"), {"name": "  Payments   core "})
    team = sam.groups.model.objects.get(name="Payments core")
    assert made["Location"] == reverse("people:team", args=[team.pk])
    added = admin_client.post(reverse("people:team", args=[team.pk]), {"username": "SAM"})
    assert added.status_code == 302
    assert sam.groups.filter(pk=team.pk).exists()
    page = admin_client.get(reverse("people:teams")).content.decode()
    assert "Payments core" in page
    assert group_name(Role.AUTHOR) not in page
    removed = admin_client.post(reverse("people:team_remove", args=[team.pk, sam.pk]))
    assert removed.status_code == 302
    assert not sam.groups.filter(pk=team.pk).exists()


def test_team_forms_say_what_is_wrong(admin_client):
    GroupFactory(name="security")
    for name, message in [("", "This field is required"), ("SECURITY", "already a team"),
                          ("Role: Boss", "kept for roles")]:  # fmt: skip
        answer = admin_client.post(reverse("people:teams"), {"name": name})
        assert answer.status_code == 400
        assert message in answer.content.decode()
    team = GroupFactory(name="sre")
    nobody = admin_client.post(reverse("people:team", args=[team.pk]), {"username": "ghost"})
    assert nobody.status_code == 400
    assert "Nobody is called" in nobody.content.decode()


def test_a_role_group_is_not_a_team_page(admin_client):
    role = UserFactory().groups.get()
    assert admin_client.get(reverse("people:team", args=[role.pk])).status_code == 404


def test_restricted_reviews_follow_team_membership(admin_client, client, save_review):
    team = GroupFactory(name="security")
    secret = save_review(title="Key leak", restricted_to=team)
    sam = UserFactory(username="sam")
    client.force_login(sam)
    assert client.get(secret.get_absolute_url()).status_code == 404
    admin_client.post(reverse("people:team", args=[team.pk]), {"username": "sam"})
    assert client.get(secret.get_absolute_url()).status_code == 200
