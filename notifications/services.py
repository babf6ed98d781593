"""Telling people things: one function every app calls, so the inbox and e-mail agree."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import timezone

from incidents.models import Incident
from incidents.permissions import can_view

from .models import Notification


def notify(
    *,
    recipients: Iterable[AbstractBaseUser],
    kind: str,
    text: str,
    url: str = "",
    incident=None,
    action_item=None,
    actor: AbstractBaseUser | None = None,
    key: str | None = None,
) -> list[Notification]:
    """Record one notification per active recipient (never the actor themself) and queue
    its e-mail once the surrounding transaction commits. With `key`, a recipient already
    told under that key is not told again: the key is stored as `<key>:<recipient id>`.
    Nobody is told about a review they may not see (a restricted review outside their
    group): its title would be in the text. Returns the notifications created now."""
    created = []
    seen = set()
    subject = incident if incident is not None else getattr(action_item, "incident", None)
    for person in recipients:
        if person is None or not person.is_active or person.pk in seen:
            continue
        if actor is not None and person.pk == actor.pk:
            continue
        if subject is not None and not can_view(person, subject):
            continue
        seen.add(person.pk)
        row_key = f"{key}:{person.pk}" if key else None
        if row_key and Notification.objects.filter(key=row_key).exists():
            continue
        try:
            # A savepoint: a concurrent teller who won the race leaves this one a no-op.
            with transaction.atomic():
                note = Notification.objects.create(
                    recipient=person,
                    kind=kind,
                    text=text[:500],
                    url=url,
                    incident=incident,
                    action_item=action_item,
                    actor=actor,
                    key=row_key,
                )
        except IntegrityError:
            continue
        created.append(note)
    if created:
        from .tasks import enqueue_emails

        ids = [n.pk for n in created]
        transaction.on_commit(lambda: enqueue_emails(ids))
    return created


def unread_count(user) -> int:
    """How many of the user's notifications are unread (one query; the nav shows it)."""
    if not user.is_authenticated:
        return 0
    return visible_notifications(user).filter(read_at__isnull=True).count()


def visible_notifications(user) -> QuerySet[Notification]:
    """The user's notifications, without those about a review they may no longer see (they
    left its group since): the text names the review."""
    return Notification.objects.filter(recipient=user).filter(
        Q(incident__isnull=True) | Q(incident__in=Incident.objects.visible_to(user))
    )


def inbox(user) -> QuerySet[Notification]:
    """The user's notifications for the inbox: unread first, then newest first."""
    unread = ExpressionWrapper(Q(read_at__isnull=True), output_field=BooleanField())
    return (
        visible_notifications(user)
        .annotate(unread=unread)
        .select_related("actor")
        .order_by("-unread", "-created_at", "-id")
    )


def mark_read(user, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications read (or all of them, without an id); returns
    how many changed. Someone else's notification is never touched."""
    rows = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_id is not None:
        rows = rows.filter(pk=notification_id)
    return rows.update(read_at=timezone.now())
