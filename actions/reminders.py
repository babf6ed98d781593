"""Reminders of action items: one before the due date, one once it has passed.

`send_reminders` is run by the beat schedule (hourly by default). Each reminder is told
through `notifications.services.notify` under a key naming the item, the kind of reminder
and the due date, so a run repeated (or overlapping) tells nobody twice, and an item whose
due date moves earns reminders for its new date.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from incidents.models import ActionItem
from notifications.models import Notification
from notifications.services import notify

from .selectors import OPEN_STATUSES, REVIEW_TEXT

logger = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True)
class Sent:
    """What one run did: how many notifications it created, of each kind."""

    due_soon: int = 0
    overdue: int = 0


def reminder_key(item: ActionItem, kind: str) -> str:
    """The notification key of one reminder: the item, the kind and the due date it is for
    (`notify` adds the recipient)."""
    label = "overdue" if kind == Notification.Kind.ACTION_OVERDUE else "due"
    return f"action-{label}:{item.pk}:{item.due.isoformat()}"


def _owners(items: list[ActionItem]) -> dict[int, list]:
    """Each item's owners who may see its review: its person, or the active members of its
    team; for a restricted review, only those in its group (superusers see every review)."""
    user_model = get_user_model()
    team_ids = {item.owner_team_id for item in items if item.owner_team_id}
    members: dict[int, list] = defaultdict(list)
    if team_ids:
        memberships = user_model.groups.through.objects.filter(
            group_id__in=team_ids, user__is_active=True
        ).select_related("user")
        for row in memberships:
            members[row.group_id].append(row.user)
    owners = {}
    for item in items:
        people = [item.owner_user] if item.owner_user_id else members.get(item.owner_team_id, [])
        owners[item.pk] = [p for p in people if p is not None and p.is_active]
    restricted = {item.incident.restricted_to_id for item in items} - {None}
    if restricted:
        everyone = {p.pk for people in owners.values() for p in people}
        in_group = defaultdict(set)
        for user_id, group_id in user_model.groups.through.objects.filter(
            group_id__in=restricted, user_id__in=everyone
        ).values_list("user_id", "group_id"):
            in_group[group_id].add(user_id)
        for item in items:
            group = item.incident.restricted_to_id
            if group is not None:
                owners[item.pk] = [
                    p for p in owners[item.pk] if p.is_superuser or p.pk in in_group[group]
                ]
    return owners


def _text(item: ActionItem, kind: str) -> str:
    """What the reminder says: the action, its due date and its review."""
    when = f"{item.due.day} {item.due:%b %Y}"
    review = item.incident.title
    if kind == Notification.Kind.ACTION_OVERDUE:
        return f"Action item “{item.title}” was due on {when} and is still open (review: {review})."
    return f"Action item “{item.title}” is due on {when} (review: {review})."


def due_items(today: date, days_before: int):
    """Open items with a due date within `days_before` days from today (or past), that have
    an owner in Seams: those a reminder may be due for."""
    return (
        ActionItem.objects.filter(
            status__in=OPEN_STATUSES,
            due__isnull=False,
            due__lte=today + timedelta(days=days_before),
        )
        .filter(Q(owner_user__isnull=False) | Q(owner_team__isnull=False))
        .select_related("incident", "owner_user")
        .defer(*(f"incident__{name}" for name in REVIEW_TEXT))
        .order_by("id")
    )


def send_reminders(*, today: date | None = None, days_before: int | None = None) -> Sent:
    """Tell each owner of an open action item, once, that it is due soon (due within
    `days_before` days, default `SEAMS_REMINDER_DAYS_BEFORE`), and once more when its due
    date has passed. Returns how many notifications were created now."""
    today = today or timezone.localdate()
    days = settings.SEAMS_REMINDER_DAYS_BEFORE if days_before is None else days_before
    counts = {Notification.Kind.ACTION_DUE: 0, Notification.Kind.ACTION_OVERDUE: 0}
    items = list(due_items(today, days))
    for start in range(0, len(items), BATCH):
        batch = items[start : start + BATCH]
        # Reminders already given: a rerun then asks nothing more of `notify`.
        told = set(
            Notification.objects.filter(
                action_item_id__in=[item.pk for item in batch],
                kind__in=list(counts),
            ).values_list("key", flat=True)
        )
        owners = _owners(batch)
        for item in batch:
            late = item.due < today
            kind = Notification.Kind.ACTION_OVERDUE if late else Notification.Kind.ACTION_DUE
            key = reminder_key(item, kind)
            recipients = [p for p in owners[item.pk] if f"{key}:{p.pk}" not in told]
            if not recipients:
                continue
            created = notify(
                recipients=recipients,
                kind=kind,
                text=_text(item, kind),
                url=f"{item.incident.get_absolute_url()}#actions-heading",
                incident=item.incident,
                action_item=item,
                key=key,
            )
            counts[kind] += len(created)
    sent = Sent(
        due_soon=counts[Notification.Kind.ACTION_DUE],
        overdue=counts[Notification.Kind.ACTION_OVERDUE],
    )
    if sent.due_soon or sent.overdue:
        logger.info("reminders: %d due soon, %d overdue", sent.due_soon, sent.overdue)
    return sent
