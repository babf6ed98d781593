"""Review as a gate: named reviewers approve or ask for changes, and publishing waits for
the approvals the settings require.

The rules (docs/review-workflow.md has them for readers):

- Only a named reviewer who is not the review's author decides, and only while the review
  is in review. A reviewer's latest decision is the one that counts.
- Publishing needs `SEAMS_REQUIRED_APPROVALS` (default 1) current approvals by named
  reviewers other than the author, and no named reviewer whose latest decision asks for
  changes. With `SEAMS_DISMISS_STALE_APPROVALS` (default on), an approval given on an older
  version than the one being published does not count: an edit after an approval needs a
  new one.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from incidents import permissions
from incidents.bounds import CONTROL_CHARACTERS
from incidents.models import Incident
from incidents.services import incident_hold_at_version

from .models import ReviewDecision
from .notices import tell_author_of_decision

DECIDE_REFUSED = (
    "Only a named reviewer of this review who is not its author may approve it or ask for changes."
)


class DecisionRefused(Exception):
    """The user may not decide on this review (a 403)."""


class NotInReview(Exception):
    """The review is not in review, so no decision can be given now (a 409)."""


class ReviewChanged(Exception):
    """The review changed since the reviewer read it (a 409): they should read it again."""

    def __init__(self, current: int, seen: int) -> None:
        self.current = current
        self.seen = seen
        super().__init__(
            f"The review is at version {current}, not {seen}: it changed since you read it. "
            "Read it again before you decide."
        )


@dataclass(frozen=True)
class Standing:
    """Where one named reviewer stands: their latest decision, if any, and whether it counts."""

    reviewer: AbstractBaseUser
    decision: ReviewDecision | None
    is_author: bool
    stale: bool

    @property
    def state(self) -> str:
        """`author` (cannot decide), `waiting`, `approved`, `stale` (an approval of an older
        version) or `changes_requested`."""
        if self.is_author:
            return "author"
        if self.decision is None:
            return "waiting"
        if self.decision.decision == ReviewDecision.Decision.APPROVED:
            return "stale" if self.stale else "approved"
        return "changes_requested"


@dataclass(frozen=True)
class ReviewState:
    """The gate's view of a review: who stands where, and what publishing still lacks."""

    version: int
    required: int
    approvals: int
    standings: list[Standing]
    reasons: list[str]

    @property
    def satisfied(self) -> bool:
        return not self.reasons


def required_approvals() -> int:
    """How many current approvals publishing needs (never fewer than none)."""
    return max(0, int(getattr(settings, "SEAMS_REQUIRED_APPROVALS", 1)))


def dismiss_stale_approvals() -> bool:
    """Whether an approval of an older version stops counting."""
    return bool(getattr(settings, "SEAMS_DISMISS_STALE_APPROVALS", True))


def latest_decisions(incident: Incident, reviewer_ids: list[int]) -> dict[int, ReviewDecision]:
    """Each reviewer's latest decision on the review (one query)."""
    if not reviewer_ids:
        return {}
    latest: dict[int, ReviewDecision] = {}
    rows = ReviewDecision.objects.filter(incident=incident, reviewer_id__in=reviewer_ids)
    for row in rows.order_by("reviewer_id", "-id"):
        latest.setdefault(row.reviewer_id, row)
    return latest


def review_state(incident: Incident, version: int | None = None) -> ReviewState:
    """Where the review's named reviewers stand on `version` (default: the current one), and
    what publishing it still needs from them. Uses `incident.reviewers.all()`, so a page that
    prefetched the reviewers asks one query here."""
    seen = incident.version if version is None else version
    reviewers = sorted(incident.reviewers.all(), key=lambda r: r.get_username())
    decisions = latest_decisions(incident, [r.pk for r in reviewers])
    dismiss = dismiss_stale_approvals()
    standings = []
    for reviewer in reviewers:
        decision = decisions.get(reviewer.pk)
        standings.append(
            Standing(
                reviewer=reviewer,
                decision=decision,
                is_author=incident.created_by_id == reviewer.pk,
                stale=dismiss and decision is not None and decision.version < seen,
            )
        )
    approvals = sum(1 for s in standings if s.state == "approved")
    required = required_approvals()
    reasons = []
    if approvals < required:
        deciders = [s for s in standings if not s.is_author]
        if not deciders:
            reasons.append(
                "a named reviewer other than the author (send it for review)"
                if required == 1
                else f"{required} named reviewers other than the author (send it for review)"
            )
        else:
            more = required - approvals
            reasons.append(
                f"{more} more approval{'s' if more != 1 else ''} by a named reviewer other "
                f"than the author ({approvals} of {required} so far)"
            )
    for standing in standings:
        if standing.state == "changes_requested":
            reasons.append(
                f"the changes {standing.reviewer.get_username()} asked for "
                "(they approve once those are made)"
            )
    return ReviewState(
        version=seen, required=required, approvals=approvals, standings=standings, reasons=reasons
    )


def publish_gate(incident: Incident, version: int) -> list[str]:
    """The publish gate `incidents.services.incident_publish` consults (registered in
    `ReviewflowConfig.ready`): what the approvals still lack."""
    return review_state(incident, version).reasons


def can_decide(user: AbstractBaseUser, incident: Incident) -> bool:
    """Approve or ask for changes: a named reviewer who is not the author and can see it."""
    return (
        permissions.can_view(user, incident)
        and permissions.is_reviewer(user, incident)
        and not permissions.is_author(user, incident)
    )


def clean_note(note: str, *, required: bool) -> str:
    """A decision's note as stored, or ValueError with a message for the reviewer."""
    limit = settings.SEAMS_MAX_SECTION_CHARS
    if CONTROL_CHARACTERS.search(note):
        raise ValueError("The note contains a control character (such as NUL); remove it.")
    if len(note) > limit:
        raise ValueError(f"The note is {len(note):,} characters long; at most {limit:,} fit.")
    if required and not note.strip():
        raise ValueError("Say what should change: asking for changes needs a note.")
    return note.strip()


def decide(
    *,
    incident: Incident,
    by: AbstractBaseUser,
    decision: str,
    note: str = "",
    version: int | None = None,
) -> ReviewDecision:
    """Record a named reviewer's decision on the version they read (`version`; default the
    current one) and tell the author. Raises DecisionRefused (not theirs to give),
    NotInReview, ReviewChanged (the review was saved since `version`) or ValueError (a
    missing or unusable note)."""
    if decision not in ReviewDecision.Decision.values:
        raise ValueError("Decide `approved` or `changes_requested`.")
    note = clean_note(note, required=decision == ReviewDecision.Decision.CHANGES_REQUESTED)
    seen = incident.version if version is None else version
    with transaction.atomic():
        # Under the review's lock, as publishing is: a save or a publication cannot slip in
        # between this check and the decision.
        if not incident_hold_at_version(incident_pk=incident.pk, expected_version=seen):
            current = Incident.objects.filter(pk=incident.pk).values_list("version", flat=True)
            if not current:
                raise Incident.DoesNotExist(f"Incident {incident.pk} no longer exists.")
            raise ReviewChanged(current[0], seen)
        current = Incident.objects.get(pk=incident.pk)
        if not can_decide(by, current):
            raise DecisionRefused(DECIDE_REFUSED)
        if current.status != Incident.Status.IN_REVIEW:
            raise NotInReview(
                f"This review is {current.get_status_display().lower()}: reviewers decide "
                "while it is in review."
            )
        row = ReviewDecision.objects.create(
            incident=current, reviewer=by, decision=decision, note=note, version=seen
        )
        tell_author_of_decision(row)
    return row
