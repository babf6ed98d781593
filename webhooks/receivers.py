"""Signal receivers: turn what happens in incidents into webhook events.

Each runs inside (or right after) someone else's write, so a failure here is logged and
never undoes that write (`events.safely`); the periodic job catches up recurrences.
"""

from __future__ import annotations

from . import events


def on_review_published(sender, incident, by=None, **kwargs) -> None:
    """After a publication is committed: `review.published`."""
    events.safely("review.published", events.emit_review_published, incident=incident, by=by)


def on_review_requested(sender, incident, by=None, reviewers=(), **kwargs) -> None:
    """In the transaction that sends a review for review: `review.requested` (its deliveries
    are queued only if that transaction commits)."""
    events.safely(
        "review.requested",
        events.emit_review_requested,
        incident=incident,
        by=by,
        reviewers=list(reviewers),
    )


def on_structures_recognised(sender, signatures=(), **kwargs) -> None:
    """After a full recompute committed: `structure.recognised` for the structures it found
    anew."""
    events.safely("recognised structures", events.emit_recognised, list(signatures))


def on_incident_analysed(sender, incident, **kwargs) -> None:
    """In the analysis transaction: the recurrences the incident is part of."""
    events.safely("recurrence events", events.emit_recurrences_of, incident)
