"""Who may manage webhooks, and what of a restricted event an admin may read.

Webhooks are for admins (the Admin role, `people.manage_people`) and staff. An admin still
sees a restricted review's title in the delivery log only if they may see the review: the
log names "a restricted review" to the others.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from people.roles import can_manage_people

from .models import Event

User = AbstractBaseUser | AnonymousUser

MANAGE_REFUSED = "Only admins of Seams may manage webhooks."


def can_manage_webhooks(user: User) -> bool:
    """Create, change and delete endpoints, read the delivery log, redeliver."""
    return user.is_authenticated and user.is_active and (user.is_staff or can_manage_people(user))


def visible_groups(user: User) -> set[int] | None:
    """The ids of the groups whose restricted reviews `user` may see (None: all of them)."""
    if user.is_superuser:
        return None
    return set(user.groups.values_list("pk", flat=True))


def may_read(event: Event, groups: set[int] | None) -> bool:
    """Whether a reader in `groups` (see `visible_groups`) may read what the event says."""
    return event.restricted_to_id is None or groups is None or event.restricted_to_id in groups
