"""Who may define review templates."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

# Django's own permission, so a role (people.roles) can grant it like any other; superusers
# have every permission.
MANAGE_PERMISSION = "review_templates.change_reviewtemplate"
MANAGE_REFUSED = (
    "Only people allowed to define review templates may change them. "
    "Ask an admin of Seams for that permission."
)


def can_manage_templates(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether the user may list, create, edit and delete review templates."""
    return user.is_authenticated and user.has_perm(MANAGE_PERMISSION)
