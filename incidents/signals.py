"""Receivers that keep derived data honest when a review goes away outside the services."""

from __future__ import annotations

from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone

from .models import Incident, RecurringStructure


@receiver(pre_delete, sender=Incident, dispatch_uid="seams-structure-loses-member")
def structure_loses_member(sender, instance: Incident, **kwargs) -> None:
    """A deleted incident leaves its structures (its memberships go with it): give them a
    new version, so no reader's cached view of them (`incidents.selectors`) still counts it."""
    RecurringStructure.objects.filter(memberships__incident=instance).update(
        updated_at=timezone.now()
    )
