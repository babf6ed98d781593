"""Who may close an action item: the rules of `incidents.permissions`, plus its owners.

Whoever may edit the review may change its items (they can in the editor anyway); the owner
of an item (its person, or a member of its team) may mark it done or won't do from their
list, as long as they may see the review. Nobody else may.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from incidents import permissions as rules
from incidents.models import ActionItem

User = AbstractBaseUser | AnonymousUser

CLOSE_REFUSED = (
    "Only the owner of this action item (the person, or a member of the team), the review's "
    "author, its named reviewers and editors may close it."
)


def is_owner(user: User, item: ActionItem, team_ids: set[int] | None = None) -> bool:
    """Whether the user owns the item: its person, or a member of its team. `team_ids` (the
    user's groups) spares a query per item when many are asked about."""
    if not user.is_authenticated:
        return False
    if item.owner_user_id is not None and item.owner_user_id == user.pk:
        return True
    if item.owner_team_id is None:
        return False
    if team_ids is None:
        team_ids = set(user.groups.values_list("pk", flat=True))
    return item.owner_team_id in team_ids


def can_close(user: User, item: ActionItem) -> bool:
    """Mark the item done or won't do (or open it again): its owners and whoever may edit
    its review, if they may see the review."""
    incident = item.incident
    if not rules.can_view(user, incident):
        return False
    return is_owner(user, item) or rules.can_edit(user, incident)


def closable(user: User, items: Iterable[ActionItem]) -> set[int]:
    """The ids of the items (all of reviews the user may see, with `incident` and its
    `reviewers` prefetched) the user may close, asking the database at most once."""
    items = list(items)
    if not user.is_authenticated or not items:
        return set()
    editor = rules.is_editor(user)
    team_ids = set(user.groups.values_list("pk", flat=True))
    return {
        item.pk
        for item in items
        if editor
        or is_owner(user, item, team_ids)
        or rules.is_author(user, item.incident)
        or rules.is_reviewer(user, item.incident)
    }
