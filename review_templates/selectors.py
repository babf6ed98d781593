"""Reading review templates: the default, one by id or name, and the list with its use."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet

from incidents.bounds import CONTROL_CHARACTERS, MAX_DB_INT
from incidents.models import Incident

from .models import ReviewTemplate


def default_template() -> ReviewTemplate | None:
    """The template a new review starts from when its author chooses none."""
    return ReviewTemplate.objects.filter(is_default=True).first()


def looks_like_id(text: str) -> bool:
    """Whether `text` reads as a template's id (ASCII digits only)."""
    text = text.strip()
    return text.isascii() and text.isdigit()


def find_template(ref: int | str) -> ReviewTemplate | None:
    """The template with this id, or with this name (case aside); None when there is none.

    A name is never all digits (the form refuses it), so "12" is always an id.
    """
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int) or looks_like_id(ref):
        number = int(ref)
        if not 1 <= number <= MAX_DB_INT:
            return None
        return ReviewTemplate.objects.filter(pk=number).first()
    name = ref.strip()
    if not name or len(name) > 120 or CONTROL_CHARACTERS.search(name):
        return None
    return ReviewTemplate.objects.filter(name__iexact=name).first()


def templates_with_use(user: AbstractBaseUser | AnonymousUser) -> QuerySet[ReviewTemplate]:
    """Every template, with how many reviews this user may see were written from it (a
    review the user may not see is not counted: its existence is its group's business)."""
    visible = Incident.objects.visible_to(user)
    return ReviewTemplate.objects.annotate(
        visible_reviews=Count("incidents", filter=Q(incidents__in=visible), distinct=True)
    ).order_by("name")


def reviews_using(template: ReviewTemplate, user: AbstractBaseUser | AnonymousUser) -> int:
    """How many reviews this user may see were written from `template`."""
    return Incident.objects.visible_to(user).filter(template=template).count()
