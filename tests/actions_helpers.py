"""Builders shared by the action-item tests (tests/test_actions_*.py)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import Permission
from django.utils import timezone

from incidents import services
from incidents.models import ActionItem, Incident

from .factories import GroupFactory, UserFactory


def person(name: str, **kwargs):
    """A user with an e-mail address (reminders are e-mailed)."""
    return UserFactory(username=name, email=f"{name}@example.com", **kwargs)


def editor(name: str = "editor"):
    """A user with the editors' permission: edits every review they can see."""
    user = person(name)
    user.user_permissions.add(Permission.objects.get(codename="change_incident"))
    return user


def days(n: int) -> dt.date:
    """The date `n` days from today (negative: in the past)."""
    return timezone.localdate() + dt.timedelta(days=n)


def item(title: str, **kwargs) -> services.ActionEntry:
    return services.ActionEntry(title=title, **kwargs)


def review_with(*items: services.ActionEntry, by=None, title="A review", **fields) -> Incident:
    """A review saved through the service with these action items."""
    content = services.ReviewContent(
        fields={"title": title, "started_at": timezone.now(), **fields},
        actions=list(items),
    )
    return services.incident_create(by=by, content=content)


def stored(incident: Incident, title: str) -> ActionItem:
    return incident.action_items.get(title=title)


__all__ = ["GroupFactory", "UserFactory", "days", "editor", "item", "person", "review_with",
           "stored"]  # fmt: skip
