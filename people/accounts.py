"""Changing someone's standing in Seams: their role, and whether they may log in at all.

Two rules keep Seams manageable: nobody changes their own role or deactivates themselves
(ask another admin), and the last active admin can neither be deactivated nor lose the
Admin role, so there is always someone who can manage people.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from .models import Role
from .roles import RoleError, active_admins, role_of, set_role


def _lock_admins() -> None:
    # Two admins demoting each other at once must not leave nobody: the second waits for
    # the first, then counts again.
    list(get_user_model().objects.select_for_update().filter(pk__in=active_admins().values("pk")))


def is_last_admin(person: AbstractBaseUser) -> bool:
    """Whether `person` is the only active person left who can manage people."""
    admins = active_admins()
    return admins.filter(pk=person.pk).exists() and not admins.exclude(pk=person.pk).exists()


def change_role(*, person: AbstractBaseUser, role: Role | str, by: AbstractBaseUser) -> None:
    """Give `person` another role, on behalf of the admin `by`."""
    role = Role(role)
    if person.pk == by.pk:
        raise RoleError("You cannot change your own role; ask another admin.")
    with transaction.atomic():
        _lock_admins()
        if role != Role.ADMIN and role_of(person) == Role.ADMIN and is_last_admin(person):
            raise RoleError(
                f"{person.get_username()} is the last admin: make someone else an admin first."
            )
        set_role(person, role)


def deactivate(*, person: AbstractBaseUser, by: AbstractBaseUser) -> None:
    """Stop `person` logging in (password, single sign-on and API tokens alike); their
    reviews, comments and history stay."""
    if person.pk == by.pk:
        raise RoleError("You cannot deactivate yourself; ask another admin.")
    if person.is_superuser and not by.is_superuser:
        raise RoleError("Only a superuser may deactivate a superuser.")
    with transaction.atomic():
        _lock_admins()
        if is_last_admin(person):
            raise RoleError(
                f"{person.get_username()} is the last admin: make someone else an admin first."
            )
        person.is_active = False
        person.save(update_fields=["is_active"])


def reactivate(*, person: AbstractBaseUser, by: AbstractBaseUser) -> None:
    """Let a deactivated person log in again, with the role and teams they had."""
    if person.pk == by.pk:
        raise RoleError("You cannot reactivate yourself.")
    person.is_active = True
    person.save(update_fields=["is_active"])
