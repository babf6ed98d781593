"""Invitations: an admin names an e-mail address, a role and teams; the person gets a
one-time link, chooses a username and password there, and is in.

The link carries a random token; Seams stores only its hash, so the link works once, for
SEAMS_INVITE_DAYS days, and nobody who reads the database can use it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from smtplib import SMTPException

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from .models import Invitation, Role
from .roles import set_role


class InvitationError(Exception):
    """An invitation that cannot be made or used; `status` is the HTTP answer for it."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class EmailNotSent(Exception):
    """The invitation was made but its e-mail could not be sent; `link` is its link, for
    the admin to pass on another way."""

    def __init__(self, *, link: str, reason: str) -> None:
        super().__init__(f"The invitation e-mail could not be sent: {reason}")
        self.link = link
        self.reason = reason


@dataclass(frozen=True)
class SentInvitation:
    """An invitation just made, and the link it was sent with (never stored)."""

    invitation: Invitation
    link: str


def normalise_email(email: str) -> str:
    return get_user_model().objects.normalize_email(email.strip())


def existing_account(email: str) -> AbstractBaseUser | None:
    """The account that already uses `email` (compared without regard to case), if any."""
    return get_user_model().objects.filter(email__iexact=normalise_email(email)).first()


def invitation_link(token: str) -> str:
    """The absolute link an invitee opens (e-mails have no request to build it from)."""
    return settings.SEAMS_BASE_URL.rstrip("/") + reverse("people:accept", args=[token])


def invite(
    *, email: str, role: Role | str, teams: Iterable[Group], by: AbstractBaseUser | None
) -> SentInvitation:
    """Invite `email` to Seams with `role` and `teams` and e-mail them the link.

    An address that already has an account is refused; an earlier invitation to the same
    address that was not used yet is replaced (its link stops working)."""
    email = normalise_email(email)
    account = existing_account(email)
    if account is not None:
        raise InvitationError(
            f"{email} already has an account in Seams ({account.get_username()}); "
            "change their role or teams on their page instead."
        )
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        Invitation.objects.filter(email__iexact=email, accepted_at__isnull=True).delete()
        invitation = Invitation.objects.create(
            email=email,
            role=Role(role),
            token_digest=Invitation.hash_token(token),
            invited_by=by,
            created_at=now,
            expires_at=now + dt.timedelta(days=settings.SEAMS_INVITE_DAYS),
        )
        invitation.teams.set(list(teams))
    link = invitation_link(token)
    inviter = (by.get_full_name() or by.get_username()) if by is not None else "An admin"
    try:
        _send(invitation, link, inviter)
    except (SMTPException, OSError) as error:
        raise EmailNotSent(link=link, reason=str(error)) from error
    return SentInvitation(invitation=invitation, link=link)


def _send(invitation: Invitation, link: str, inviter: str) -> None:
    role = Role(invitation.role)
    article = "an" if role.label[0] in "AEIOU" else "a"
    send_mail(
        subject="You are invited to Seams",
        message=(
            f"{inviter} invited you to Seams, where your organisation keeps blameless reviews "
            f"of its incidents, as {article} {role.label.lower()}.\n\n"
            f"Choose your username and password here (the link works once, until "
            f"{invitation.expires_at:%d %B %Y %H:%M} UTC):\n\n{link}\n\n"
            "If you did not expect this, ignore this e-mail."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )


def open_invitation(token: str) -> Invitation:
    """The invitation `token` belongs to, if it can still be used; InvitationError (404
    unknown, 410 used or expired) otherwise."""
    invitation = (
        Invitation.objects.filter(token_digest=Invitation.hash_token(token))
        .prefetch_related("teams")
        .first()
    )
    if invitation is None:
        raise InvitationError(
            "This invitation link is not known. Check that you copied all of it, or ask "
            "for a new invitation.",
            status=404,
        )
    if invitation.accepted_at is not None:
        raise InvitationError(
            "This invitation was already used. Log in with the username and password "
            "chosen then, or ask for a new invitation.",
            status=410,
        )
    if invitation.is_expired:
        raise InvitationError(
            f"This invitation expired on {invitation.expires_at:%d %B %Y}. "
            "Ask the person who invited you for a new one.",
            status=410,
        )
    return invitation


def accept(*, invitation: Invitation, username: str, password: str) -> AbstractBaseUser:
    """Create the invitee's account with the invitation's role and teams; the invitation
    cannot be used again."""
    with transaction.atomic():
        # Under the lock, so two tabs submitting at once make one account, not two.
        fresh = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if fresh.accepted_at is not None:
            raise InvitationError("This invitation was already used.", status=410)
        if existing_account(fresh.email) is not None:
            raise InvitationError(
                f"{fresh.email} already has an account in Seams; log in with it.", status=409
            )
        user = get_user_model().objects.create_user(
            username=username, email=fresh.email, password=password
        )
        set_role(user, fresh.role)
        user.groups.add(*invitation.teams.all())
        fresh.accepted_at = timezone.now()
        fresh.accepted_by = user
        fresh.save(update_fields=["accepted_at", "accepted_by"])
    return user
