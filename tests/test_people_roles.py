"""Roles: what each one lets a person do, and that readers cannot write reviews."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from incidents import permissions
from people.models import Role
from people.roles import (
    ROLE_PERMISSIONS,
    can_be_reviewer,
    can_manage_people,
    group_name,
    role_of,
    set_role,
    sync_role_groups,
)

from .conftest import token_client
from .factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_REVIEW = {"title": "Queue backlog", "started_at": "2026-01-02T03:04:05Z"}


def fresh(user):
    """The user as the next request sees them (no cached permissions)."""
    return type(user).objects.get(pk=user.pk)


@pytest.mark.parametrize(
    ("role", "create", "edit_any", "publish_any", "review", "manage"),
    [
        (Role.READER, False, False, False, False, False),
        (Role.AUTHOR, True, False, False, False, False),
        (Role.REVIEWER, True, False, False, True, False),
        (Role.ADMIN, True, True, True, True, True),
    ],
)
def test_each_role_maps_onto_django_permissions(
    role, create, edit_any, publish_any, review, manage
):
    user = fresh(UserFactory(role=role))
    assert role_of(user) == role
    assert permissions.can_create(user) is create
    assert permissions.is_editor(user) is edit_any
    assert user.has_perm(permissions.PUBLISH_PERMISSION) is publish_any
    assert can_be_reviewer(user) is review
    assert can_manage_people(user) is manage


def test_one_role_per_person_and_the_change_takes_effect_at_once():
    user = UserFactory(role=Role.READER)
    assert not permissions.can_create(user)
    set_role(user, Role.ADMIN)
    assert permissions.can_create(user)  # same object: Django's permission cache was cleared
    set_role(user, Role.AUTHOR)
    assert role_of(user) == Role.AUTHOR
    assert [g.name for g in user.groups.all()] == [group_name(Role.AUTHOR)]


def test_a_superuser_may_do_everything_whatever_the_role():
    boss = fresh(UserFactory(role=Role.READER, is_superuser=True))
    assert permissions.can_create(boss)
    assert can_manage_people(boss)


def test_the_factory_gives_reviewers_by_default_and_none_on_request():
    assert role_of(UserFactory()) == Role.REVIEWER
    nobody = UserFactory(role="")
    assert role_of(nobody) is None
    assert not permissions.can_create(fresh(nobody))


def test_sync_puts_back_what_an_edit_in_the_admin_changed():
    author = Group.objects.get(name=group_name(Role.AUTHOR))
    author.permissions.clear()
    Group.objects.filter(name=group_name(Role.REVIEWER)).delete()
    groups = sync_role_groups()
    for role, names in ROLE_PERMISSIONS.items():
        held = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in groups[role].permissions.select_related("content_type")
        }
        assert held == set(names)


def test_a_reader_gets_403_writing_a_review_on_the_web(client):
    client.force_login(UserFactory(role=Role.READER))
    page = client.get(reverse("incidents:create"))
    assert page.status_code == 403
    assert "read and comment" in page.content.decode()
    posted = client.post(reverse("incidents:create"), {"title": "Sneaky"})
    assert posted.status_code == 403


def test_a_reader_has_no_write_link_in_the_menu_but_an_author_has(client):
    client.force_login(UserFactory(role=Role.READER))
    assert "Write a review" not in client.get(reverse("taxonomy:patterns")).content.decode()
    client.force_login(UserFactory(role=Role.AUTHOR))
    assert "Write a review" in client.get(reverse("taxonomy:patterns")).content.decode()


def test_a_readers_write_token_cannot_open_a_draft():
    api = token_client(UserFactory(role=Role.READER), "write")
    answer = api.post("/api/v1/incidents/", NEW_REVIEW, format="json")
    assert answer.status_code == 403
    assert "read and comment" in answer.json()["error"]["message"]


def test_an_authors_write_token_opens_a_draft():
    api = token_client(UserFactory(role=Role.AUTHOR), "write")
    answer = api.post("/api/v1/incidents/", NEW_REVIEW, format="json")
    assert answer.status_code == 201, answer.content


def test_role_groups_are_never_offered_or_accepted_as_a_restriction():
    boss = UserFactory(is_superuser=True)
    security = GroupFactory(name="security")
    offered = list(permissions.restrictable_groups(boss))
    assert offered == [security]
    assert not permissions.can_restrict_to(boss, Group.objects.get(name=group_name(Role.ADMIN)))
