"""Who may decide a possible duplicate: whoever may edit both reviews of the pair."""

from __future__ import annotations

from incidents import permissions as rules

from .models import PossibleDuplicate

DECIDE_REFUSED = (
    "Only someone who may edit both reviews (their authors, named reviewers or editors) "
    "may merge them or say they are not duplicates."
)


def can_decide(user, pair: PossibleDuplicate) -> bool:
    """Merge or dismiss the pair: the user may edit each of its two reviews."""
    return rules.can_edit(user, pair.first) and rules.can_edit(user, pair.second)
