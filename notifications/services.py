"""Telling people things: one function every app calls, so the inbox and e-mail agree."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

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
    Returns the notifications created now."""
    created = []
    seen = set()
    for person in recipients:
        if person is None or not person.is_active or person.pk in seen:
            continue
        if actor is not None and person.pk == actor.pk:
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
