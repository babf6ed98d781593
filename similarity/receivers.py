"""Keep the index in step with the analysis: every analysed review is (re)indexed in the same
transaction, and a full recompute first relearns the boilerplate, then re-indexes each chunk."""

from __future__ import annotations

from django.dispatch import receiver

from incidents.analysis.recurrence import incident_analysed, incidents_rescored, recompute_started

from . import boilerplate
from .index import index_incident, index_many


@receiver(incident_analysed)
def _index_analysed(sender, incident, **kwargs) -> None:
    index_incident(incident)


@receiver(recompute_started)
def _relearn_boilerplate(sender, **kwargs) -> None:
    boilerplate.relearn()


@receiver(incidents_rescored)
def _index_rescored(sender, incidents, **kwargs) -> None:
    index_many(incidents)
