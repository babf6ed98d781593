"""Roles: what a person may do in Seams, as Django groups carrying Django permissions.

Every person has at most one role (a person without one may read and comment, like a
Reader). Each role is a group named "Role: <label>" whose permissions are exactly the ones
listed here; `sync_role_groups` puts them right after every `migrate`, so a new version of
Seams that gives a role another permission takes effect on upgrade.

- **Reader**: reads and comments (every logged-in person may; no permission needed).
- **Author**: also writes reviews (`incidents.add_incident`) and edits their own.
- **Reviewer**: also may be named a reviewer, and approves or requests changes when named
  (`people.review_incidents`).
- **Admin**: also edits and publishes any review it can see (`incidents.change_incident`,
  `incidents.publish_incident`) and manages people and teams (`people.manage_people`).

Superusers have every permission whatever their role.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.db import transaction
from django.db.models import Q, QuerySet

from incidents.permissions import (
    CREATE_PERMISSION,
    EDIT_PERMISSION,
    PUBLISH_PERMISSION,
    ROLE_GROUP_PREFIX,
)

from .models import Role

User = AbstractBaseUser | AnonymousUser

MANAGE_PERMISSION = "people.manage_people"
REVIEW_PERMISSION = "people.review_incidents"
# What a refused people or teams page (or API call) says.
MANAGE_REFUSED = "Only admins of Seams may manage people and teams."

ROLE_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    Role.READER: (),
    Role.AUTHOR: (CREATE_PERMISSION,),
    Role.REVIEWER: (CREATE_PERMISSION, REVIEW_PERMISSION),
    Role.ADMIN: (
        CREATE_PERMISSION,
        EDIT_PERMISSION,
        PUBLISH_PERMISSION,
        REVIEW_PERMISSION,
        MANAGE_PERMISSION,
    ),
}


class RoleError(ValueError):
    """A role change that is not allowed; the message says why, for the person asking."""


def group_name(role: Role) -> str:
    """The name of the group that stands for `role`."""
    return f"{ROLE_GROUP_PREFIX}{Role(role).label}"


_ROLE_BY_GROUP_NAME = {group_name(role): role for role in Role}


def role_from_group_names(names: Iterable[str]) -> Role | None:
    """The role among a person's group names (for pages that prefetched the groups)."""
    for name in names:
        if name in _ROLE_BY_GROUP_NAME:
            return _ROLE_BY_GROUP_NAME[name]
    return None


def role_groups() -> QuerySet[Group]:
    """Every role's group (not teams)."""
    return Group.objects.filter(name__in=list(_ROLE_BY_GROUP_NAME))


def teams() -> QuerySet[Group]:
    """The groups that are teams: every group that is not a role."""
    return Group.objects.exclude(name__startswith=ROLE_GROUP_PREFIX)


def _permissions(names: Iterable[str]) -> list[Permission]:
    wanted = set(names)
    query = Q(pk__in=[])
    for name in wanted:
        app_label, codename = name.split(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(query).select_related("content_type"))
    missing = wanted - {f"{p.content_type.app_label}.{p.codename}" for p in found}
    if missing:
        # Django creates permissions after migrating; a role must not silently lose one.
        raise LookupError(f"Permissions not created yet: {', '.join(sorted(missing))}")
    return found


def sync_role_groups() -> dict[Role, Group]:
    """Create every role's group if missing and give it exactly its permissions (called
    after every `migrate`; safe to call any time)."""
    groups = {}
    with transaction.atomic():
        for role, names in ROLE_PERMISSIONS.items():
            group, _ = Group.objects.get_or_create(name=group_name(role))
            group.permissions.set(_permissions(names))
            groups[role] = group
    return groups


def role_of(user: User) -> Role | None:
    """The person's role, or None when they have none (they may read and comment)."""
    if not user.is_authenticated:
        return None
    names = user.groups.filter(name__in=list(_ROLE_BY_GROUP_NAME)).values_list("name", flat=True)
    return role_from_group_names(names)


def set_role(user: AbstractBaseUser, role: Role | str) -> None:
    """Give the person `role`, replacing the one they had (one role per person)."""
    role = Role(role)
    with transaction.atomic():
        target, _ = Group.objects.get_or_create(name=group_name(role))
        if not target.permissions.exists() and ROLE_PERMISSIONS[role]:
            sync_role_groups()
        user.groups.remove(*role_groups().exclude(pk=target.pk))
        user.groups.add(target)
    # Django caches permissions on the user object; the next check must see the new role.
    for cache in ("_perm_cache", "_group_perm_cache", "_user_perm_cache"):
        user.__dict__.pop(cache, None)


def can_manage_people(user: User) -> bool:
    """Invite people, change roles, deactivate, manage teams: Admins and superusers."""
    return user.is_authenticated and user.is_active and user.has_perm(MANAGE_PERMISSION)


def can_be_reviewer(user: User) -> bool:
    """Whether the person may be named a reviewer (Reviewers, Admins, superusers)."""
    return user.is_active and user.has_perm(REVIEW_PERMISSION)


def active_admins() -> QuerySet:
    """Active people who can manage people: superusers and those with the Admin role."""
    return (
        get_user_model()
        .objects.filter(
            Q(is_superuser=True) | Q(groups__name=group_name(Role.ADMIN)), is_active=True
        )
        .distinct()
    )
