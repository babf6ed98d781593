"""Writing review templates: one default at most, whatever order saves arrive in."""

from __future__ import annotations

from django.db import transaction

from .models import ReviewTemplate


def template_save(template: ReviewTemplate, *, make_default: bool) -> ReviewTemplate:
    """Store the template; when it becomes the default, the previous default stops being one
    in the same transaction (the database allows one default only)."""
    with transaction.atomic():
        if make_default:
            # First statement: takes the write lock, so two saves making different
            # templates the default run one after the other.
            ReviewTemplate.objects.filter(is_default=True).exclude(pk=template.pk).update(
                is_default=False
            )
        template.is_default = make_default
        template.save()
    return template


def template_delete(template: ReviewTemplate) -> None:
    """Delete the template. Reviews written from it keep their text and lose the link (so
    nothing is required of them any more before review)."""
    template.delete()
