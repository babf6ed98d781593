"""What an incident cost, in the units leads plan with: severity-weighted incident-hours and
users affected. One definition, used by recurring structures and reports alike.

Severity weights follow the usual reading of the levels — each step up is roughly an order of
magnitude more harm per hour — but are kept modest so that one long SEV3 cannot be outweighed
only by a flood of SEV1s, nor dominate them: a SEV1 hour counts 10, SEV2 4, SEV3 1, SEV4 0.25.
An incident of unknown severity (an imported write-up that does not say) has no weight: it is
counted as an incident, never in a weighted figure, and reports say how many were left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

SEVERITY_WEIGHTS: dict[str, float] = {"sev1": 10.0, "sev2": 4.0, "sev3": 1.0, "sev4": 0.25}

# One incident's hours count at most this much: a slowdown left open for two weeks is not
# 336 hours of outage, and one such record would otherwise decide every ranking.
HOURS_CAP = 72.0


def severity_weight(severity: str) -> float | None:
    """The weight of one hour at this severity; None when the severity is unknown."""
    return SEVERITY_WEIGHTS.get(severity)


def incident_hours(started_at: datetime | None, resolved_at: datetime | None) -> float | None:
    """Hours from start to resolution, capped at HOURS_CAP; None when either is unknown."""
    if started_at is None or resolved_at is None or resolved_at < started_at:
        return None
    return min(HOURS_CAP, (resolved_at - started_at).total_seconds() / 3600)


def weighted_hours(
    severity: str, started_at: datetime | None, resolved_at: datetime | None
) -> float | None:
    """Severity-weighted incident-hours of one incident; None when either part is unknown."""
    weight, hours = severity_weight(severity), incident_hours(started_at, resolved_at)
    if weight is None or hours is None:
        return None
    return weight * hours


@dataclass(frozen=True)
class Cost:
    """The cost of a set of incidents, with how many could not be counted in each figure."""

    incidents: int
    weighted_hours: float
    weighted_hours_unknown: int  # incidents with no severity, start or end
    users_affected: int | None  # None when no incident's count is known
    users_affected_unknown: int


def total_cost(
    rows: Iterable[tuple[str, datetime | None, datetime | None, int | None]],
) -> Cost:
    """The cost of incidents given as (severity, started_at, resolved_at, users_affected_count)."""
    count = unknown_hours = unknown_users = 0
    hours = 0.0
    users: int | None = None
    for severity, started, resolved, affected in rows:
        count += 1
        value = weighted_hours(severity, started, resolved)
        if value is None:
            unknown_hours += 1
        else:
            hours += value
        if affected is None:
            unknown_users += 1
        else:
            users = (users or 0) + affected
    return Cost(count, round(hours, 1), unknown_hours, users, unknown_users)
