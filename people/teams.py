"""Teams: the Django groups reviews are restricted to and action items are owned by.

A team is any group that is not a role (see people.roles). Removing someone from a team
takes away their view of the reviews restricted to it at once.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, Group

from incidents.permissions import ROLE_GROUP_PREFIX

from .roles import teams

MAX_NAME = Group._meta.get_field("name").max_length


class TeamError(ValueError):
    """A team change that cannot be made; the message says why."""


def clean_team_name(name: str) -> str:
    """The team name to store, or TeamError saying what is wrong with it."""
    name = " ".join(name.split())
    if not name:
        raise TeamError("Give the team a name.")
    if len(name) > MAX_NAME:
        raise TeamError(f"A team name has at most {MAX_NAME} characters.")
    if name.lower().startswith(ROLE_GROUP_PREFIX.lower()):
        raise TeamError(f"Names starting with “{ROLE_GROUP_PREFIX.strip()}” are kept for roles.")
    if Group.objects.filter(name__iexact=name).exists():
        raise TeamError(f"There is already a team called “{name}”.")
    return name


def create_team(name: str) -> Group:
    """Create a team (a group) called `name`."""
    return Group.objects.create(name=clean_team_name(name))


def add_member(team: Group, person: AbstractBaseUser) -> bool:
    """Add `person` to `team`; False when they already belonged to it."""
    if not teams().filter(pk=team.pk).exists():
        raise TeamError("That group is a role, not a team; change the person's role instead.")
    if person.groups.filter(pk=team.pk).exists():
        return False
    person.groups.add(team)
    return True


def remove_member(team: Group, person: AbstractBaseUser) -> bool:
    """Take `person` out of `team`; False when they were not in it."""
    if not teams().filter(pk=team.pk).exists():
        raise TeamError("That group is a role, not a team; change the person's role instead.")
    if not person.groups.filter(pk=team.pk).exists():
        return False
    person.groups.remove(team)
    return True
