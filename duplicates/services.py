"""Deciding a possible duplicate: merge (keep one, both sources kept) or dismiss.

A decision changes only the pair, never the reviews' text. Both reviews are locked first,
as every service that writes a review does (a conditional UPDATE of `version` that changes
nothing), so two decisions about the same reviews cannot interleave; the pair itself moves
from open only once (a conditional UPDATE on its status).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from incidents.models import Incident

from .models import PossibleDuplicate
from .selectors import merged_away_ids


class DecisionRefused(Exception):
    """A decision that cannot be made as asked; the message says why (shown to the user)."""


class NotInPair(DecisionRefused):
    """The review to keep is not one of the pair."""


class AlreadyDecided(DecisionRefused):
    """The pair was merged or dismissed already, or one review was merged elsewhere."""


def _lock_reviews(pair: PossibleDuplicate) -> None:
    # In id order, so two decisions on overlapping pairs wait for each other, never deadlock.
    for pk in sorted((pair.first_id, pair.second_id)):
        Incident.objects.filter(pk=pk).update(version=F("version"))


def _decide(pair: PossibleDuplicate, *, by, status: str, primary_id: int | None) -> None:
    decided = PossibleDuplicate.objects.filter(
        pk=pair.pk, status=PossibleDuplicate.Status.OPEN
    ).update(status=status, primary_id=primary_id, decided_by=by, decided_at=timezone.now())
    if not decided:
        pair.refresh_from_db()
        raise AlreadyDecided(
            f"This pair was already {pair.get_status_display().lower()}"
            + (f" by {pair.decided_by.get_username()}" if pair.decided_by else "")
            + "; reload to see the decision."
        )
    pair.refresh_from_db()


def duplicate_merge(
    *, pair: PossibleDuplicate, by: AbstractBaseUser, keep: int
) -> PossibleDuplicate:
    """Merge the pair: `keep` (the id of one of its reviews) is the review kept; the other
    is recorded as merged into it and stays readable, its source kept beside the kept one's.

    Refused when `keep` is not in the pair, when the pair was decided already, or when
    either review has already been merged into a third one (merge into that one instead).
    """
    if keep not in (pair.first_id, pair.second_id):
        raise NotInPair(f"Keep one of the pair: review {pair.first_id} or review {pair.second_id}.")
    with transaction.atomic():
        _lock_reviews(pair)
        away = set(merged_away_ids().filter(pk__in=[pair.first_id, pair.second_id]))
        if away:
            raise AlreadyDecided(
                f"Review {min(away)} has already been merged into another review; "
                "merge with the review it was merged into instead."
            )
        _decide(pair, by=by, status=PossibleDuplicate.Status.MERGED, primary_id=keep)
    return pair


def duplicate_dismiss(*, pair: PossibleDuplicate, by: AbstractBaseUser) -> PossibleDuplicate:
    """Record that the two reviews are different incidents; the pair is never flagged again."""
    with transaction.atomic():
        _lock_reviews(pair)
        _decide(pair, by=by, status=PossibleDuplicate.Status.DISMISSED, primary_id=None)
    return pair
