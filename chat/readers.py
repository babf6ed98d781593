"""Who a chat question is answered for: the linked Seams account, or a reader who sees only
unrestricted reviews."""

from __future__ import annotations

from django.contrib.auth.models import Group

from .models import ChatIdentity


class UnrestrictedReader:
    """A reader in no group and with no privilege: sees every unrestricted review and no
    restricted one. Asks for a chat user with no linked (active) Seams account, and for link
    unfurls, which everyone in the channel sees whoever posted the link.

    It has what the visibility selectors read (`Incident.objects.visible_to`,
    `similarity.questions.reader_groups`): an authenticated user (an anonymous one sees
    nothing at all), never a superuser, in no group."""

    is_authenticated = True
    is_anonymous = False
    is_superuser = False
    is_staff = False
    is_active = True
    pk = None
    id = None

    @property
    def groups(self):
        return Group.objects.none()

    def has_perm(self, perm: str, obj=None) -> bool:
        return False

    def __str__(self) -> str:
        return "a chat user with no Seams account"


def reader_for(*, platform: str, team_id: str, external_user_id: str):
    """The Seams account linked to this chat user if it is active, else an
    `UnrestrictedReader`."""
    identity = (
        ChatIdentity.objects.select_related("user")
        .filter(platform=platform, team_id=team_id, external_user_id=external_user_id)
        .first()
    )
    if identity is not None and identity.user.is_active:
        return identity.user
    return UnrestrictedReader()
