"""Who is told what as a review goes through review (docs/review-workflow.md).

- Review requested: the named reviewers.
- Changes requested, approved: the review's author.
- A comment: the author, the named reviewers and everyone who wrote in the thread.
- `@username` in a comment: that person, told once as a mention instead of as a comment.

Never the person who did it, and never anyone who may not see the review: `notify` drops
them, so a restricted review's title never reaches someone outside its group. Each notice is
keyed by the event (a decision's or a comment's id, a request's version), so telling twice is
telling once.
"""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from incidents.models import Comment, Incident
from notifications.models import Notification
from notifications.services import notify

from .models import ReviewDecision

# `@` then a Django username (letters, digits and @ . + - _), not inside a word or an e-mail
# address; a full stop or other punctuation at the end belongs to the sentence.
MENTION = re.compile(r"(?<![\w@.+-])@([\w.@+-]+)")
MAX_MENTIONS = 20


def _name(user: AbstractBaseUser | None) -> str:
    return user.get_username() if user is not None else "Someone"


def _excerpt(text: str, length: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1] + "…"


def mentioned_usernames(body: str) -> list[str]:
    """The usernames `@`-mentioned in a comment, in order, each once."""
    names: list[str] = []
    for match in MENTION.finditer(body):
        name = match.group(1).rstrip(".-@+")
        if name and name not in names:
            names.append(name)
        if len(names) >= MAX_MENTIONS:
            break
    return names


def tell_reviewers_of_request(
    *, incident: Incident, by: AbstractBaseUser | None, reviewers: list[AbstractBaseUser]
) -> None:
    """Review requested: tell each named reviewer (once per request)."""
    notify(
        recipients=reviewers,
        kind=Notification.Kind.REVIEW_REQUESTED,
        text=f"{_name(by)} asked you to review “{incident.title}”.",
        url=incident.get_absolute_url(),
        incident=incident,
        actor=by,
        key=f"review-requested:{incident.pk}:v{incident.version}",
    )


def tell_author_of_decision(decision: ReviewDecision) -> None:
    """Approved or changes requested: tell the review's author."""
    incident = decision.incident
    if decision.decision == ReviewDecision.Decision.APPROVED:
        kind = Notification.Kind.APPROVED
        text = (
            f"{_name(decision.reviewer)} approved “{incident.title}” (version {decision.version})."
        )
    else:
        kind = Notification.Kind.CHANGES_REQUESTED
        text = (
            f"{_name(decision.reviewer)} asked for changes to “{incident.title}”: "
            f"{_excerpt(decision.note)}"
        )
    notify(
        recipients=[incident.created_by],
        kind=kind,
        text=text,
        url=f"{incident.get_absolute_url()}#review-panel",
        incident=incident,
        actor=decision.reviewer,
        key=f"decision:{decision.pk}",
    )


def tell_of_comment(comment: Comment, by: AbstractBaseUser | None) -> None:
    """A comment: mention whoever it names (if they may see the review), and tell the author,
    the named reviewers and the thread's participants the rest."""
    incident = comment.incident
    url = f"{incident.get_absolute_url()}#thread-{comment.parent_id or comment.pk}"
    users = get_user_model().objects
    mentioned = list(users.filter(username__in=mentioned_usernames(comment.body), is_active=True))
    notify(
        recipients=mentioned,
        kind=Notification.Kind.MENTION,
        text=f"{_name(by)} mentioned you on “{incident.title}”: {_excerpt(comment.body)}",
        url=url,
        incident=incident,
        actor=by,
        key=f"mention:{comment.pk}",
    )
    thread_id = comment.parent_id or comment.pk
    participant_ids = set(
        Comment.objects.filter(pk=thread_id).values_list("author_id", flat=True)
    ) | set(Comment.objects.filter(parent_id=thread_id).values_list("author_id", flat=True))
    told = {u.pk for u in mentioned}
    others = [incident.created_by, *incident.reviewers.all()]
    others += list(users.filter(pk__in=participant_ids - told - {None}))
    notify(
        recipients=[u for u in others if u is not None and u.pk not in told],
        kind=Notification.Kind.COMMENT,
        text=f"{_name(by)} commented on “{incident.title}”: {_excerpt(comment.body)}",
        url=url,
        incident=incident,
        actor=by,
        key=f"comment:{comment.pk}",
    )


def on_review_requested(sender, *, incident, by, reviewers, **kwargs) -> None:
    """Receiver of `incidents.services.review_requested`."""
    tell_reviewers_of_request(incident=incident, by=by, reviewers=reviewers)


def on_comment_added(sender, *, comment, by, **kwargs) -> None:
    """Receiver of `incidents.services.comment_added`."""
    tell_of_comment(comment, by)
