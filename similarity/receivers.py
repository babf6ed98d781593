"""Keep the index in step with the analysis: every analysed review is (re)indexed in the same
transaction, and a full recompute first relearns the boilerplate, then re-indexes each chunk."""

from __future__ import annotations

from django.dispatch import receiver

from incidents.analysis.recurrence import incident_analysed, incidents_rescored, recompute_started
from incidents.models import Incident
from incidents.services import review_written

from . import boilerplate
from .index import index_incident, index_many


@receiver(review_written)
def _index_written(sender, incident_id, **kwargs) -> None:
    # Read back with its parts: the caller's copy may hold parts from before the write.
    incident = (
        Incident.objects.filter(pk=incident_id)
        .prefetch_related("contributing_factors", "timeline")
        .first()
    )
    if incident is not None:
        index_incident(incident)


@receiver(incident_analysed)
def _index_analysed(sender, incident, **kwargs) -> None:
    index_incident(incident)


@receiver(recompute_started)
def _relearn_boilerplate(sender, **kwargs) -> None:
    boilerplate.relearn()


@receiver(incidents_rescored)
def _index_rescored(sender, incidents, **kwargs) -> None:
    index_many(incidents)
