"""Keep the index in step with the analysis: every written or analysed review is (re)indexed in
the same transaction. A full recompute first relearns the boilerplate; it re-indexes every
review only when what the indexed texts depend on besides the reviews (the catalogue's
mechanisms, the learned boilerplate: `index.basis`) changed since the last complete pass, and
otherwise only the reviews whose indexed copy is missing or older than the review."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.dispatch import receiver

from incidents.analysis.recurrence import (
    incident_analysed,
    incidents_rescored,
    recompute_finished,
    recompute_started,
)
from incidents.models import Incident
from incidents.services import review_written

from . import boilerplate, mechanisms
from .index import basis, index_incident, index_many, index_stale

# The basis of the last complete re-index, per database. Kept in the cache: if it is lost,
# the next recompute re-indexes everything, as it did before.
_pass: dict[str, object] = {}


def _basis_key() -> str:
    return f"similarity:index-basis:{connection.settings_dict.get('NAME')}"


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
    mechanisms._cache.clear()  # index with the catalogue as it is now
    now = basis()
    full = cache.get(_basis_key()) != now
    if full:
        # Forget the old basis first: a pass interrupted half way must not count as done.
        cache.delete(_basis_key())
    _pass.update(basis=now, full=full)


@receiver(incidents_rescored)
def _index_rescored(sender, incidents, **kwargs) -> None:
    if _pass.get("full", True):
        index_many(incidents)
    else:
        index_stale(incidents)


@receiver(recompute_finished)
def _remember_basis(sender, **kwargs) -> None:
    if "basis" in _pass:
        cache.set(_basis_key(), _pass["basis"], None)
    _pass.clear()
