"""Threaded comments: a thread is opened on a section of the review (or on the whole of it),
answered with replies one level deep, and resolved (or reopened) by the people responsible
for the review or by whoever opened it.

Comments are written through `incidents.services.comment_add`, whichever door they come
through, so the notices that go with them (`reviewflow.notices`) are sent once, from one
place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from incidents import permissions
from incidents.bounds import CONTROL_CHARACTERS
from incidents.models import Comment, Incident
from incidents.services import comment_add

# The sections of a review a thread may be anchored to, in reading order, with the heading
# the review page shows (and its anchor there). Blank: the review as a whole.
SECTIONS: dict[str, str] = {
    "summary": "Summary",
    "impact": "Impact",
    "narrative": "Narrative",
    "timeline": "Timeline",
    "factors": "Contributing factors",
    "went_well": "What went well",
    "where_lucky": "Where we got lucky",
    "actions": "Action items",
    "shapes": "Emergent shapes",
    "patterns": "Structural patterns",
    "components": "Components",
    "perrow": "Perrow position",
}
WHOLE_REVIEW = "The review as a whole"
RESOLVE_REFUSED = (
    "Only the review's author, its named reviewers, editors and whoever opened the thread "
    "may resolve or reopen it."
)


class ThreadRefused(Exception):
    """The user may not do this to the thread (a 403)."""


def section_label(section: str) -> str:
    """The heading a thread's section has on the review page."""
    return SECTIONS.get(section, WHOLE_REVIEW)


def clean_body(body: str) -> str:
    """A comment's text as stored, or ValueError with a message the commenter can act on."""
    limit = settings.SEAMS_MAX_SECTION_CHARS
    if CONTROL_CHARACTERS.search(body):
        raise ValueError(
            "That comment contains a control character (such as NUL, often pasted from a "
            "terminal); remove it and send again."
        )
    if len(body) > limit:
        raise ValueError(f"That comment is {len(body):,} characters long; at most {limit:,} fit.")
    if not body.strip():
        raise ValueError("A comment needs some text.")
    return body


def clean_section(section: str) -> str:
    """A thread's anchor, or ValueError naming the sections there are."""
    if section and section not in SECTIONS:
        raise ValueError(
            f"Unknown section {section[:40]!r}; use one of {', '.join(SECTIONS)} (or none for "
            "the review as a whole)."
        )
    return section


def thread_start(
    *, incident: Incident, by: AbstractBaseUser, body: str, section: str = ""
) -> Comment:
    """Open a thread on a section of the review (blank: the whole review). Every reader of
    the review may; the caller has checked that `by` may see it."""
    return comment_add(
        incident=incident, by=by, body=clean_body(body), section=clean_section(section)
    )


def thread_reply(*, thread: Comment, by: AbstractBaseUser, body: str) -> Comment:
    """Answer a thread. A reply to a reply answers the thread it is in (one level deep)."""
    opener = thread if thread.parent_id is None else thread.parent
    return comment_add(incident=opener.incident, by=by, body=clean_body(body), parent=opener)


def can_resolve(user: AbstractBaseUser, thread: Comment) -> bool:
    """Resolve or reopen: the review's author, its named reviewers, editors (whoever may edit
    it), and the thread's opener — always among those who can see the review."""
    incident = thread.incident
    if not permissions.can_view(user, incident):
        return False
    opened_it = thread.author_id is not None and thread.author_id == user.pk
    return opened_it or permissions.can_edit(user, incident)


def _set_resolved(thread: Comment, by: AbstractBaseUser, resolved: bool) -> Comment:
    if thread.parent_id is not None:
        thread = thread.parent
    if not can_resolve(by, thread):
        raise ThreadRefused(RESOLVE_REFUSED)
    with transaction.atomic():
        # Conditional: resolving a resolved thread keeps who resolved it first, and when.
        rows = Comment.objects.filter(pk=thread.pk, resolved_at__isnull=resolved)
        if resolved:
            rows.update(resolved_at=timezone.now(), resolved_by=by)
        else:
            rows.update(resolved_at=None, resolved_by=None)
    thread.refresh_from_db()
    return thread


def thread_resolve(*, thread: Comment, by: AbstractBaseUser) -> Comment:
    """Mark the thread resolved (nothing changes if it already is)."""
    return _set_resolved(thread, by, True)


def thread_reopen(*, thread: Comment, by: AbstractBaseUser) -> Comment:
    """Reopen a resolved thread (nothing changes if it is open)."""
    return _set_resolved(thread, by, False)


@dataclass
class Thread:
    """A thread as the review page shows it: its opener and replies, oldest first."""

    opener: Comment
    replies: list[Comment] = field(default_factory=list)

    @property
    def participant_ids(self) -> set[int]:
        return {c.author_id for c in [self.opener, *self.replies] if c.author_id is not None}


@dataclass
class SectionThreads:
    """The threads on one section of the review."""

    section: str
    label: str
    threads: list[Thread]


def threads_by_section(comments: list[Comment]) -> list[SectionThreads]:
    """Group a review's comments into threads, by section in the review's reading order (the
    review as a whole first). Comments that predate threads (no parent, no section) are
    threads on the review as a whole. Pure: give it `incident.comments.all()`, prefetched."""
    threads: dict[int, Thread] = {}
    for comment in sorted(comments, key=lambda c: (c.created_at, c.pk)):
        if comment.parent_id is None:
            threads[comment.pk] = Thread(opener=comment)
    for comment in sorted(comments, key=lambda c: (c.created_at, c.pk)):
        if comment.parent_id is not None and comment.parent_id in threads:
            threads[comment.parent_id].replies.append(comment)
    order = ["", *SECTIONS]
    grouped: dict[str, list[Thread]] = {}
    for thread in threads.values():
        key = thread.opener.section if thread.opener.section in SECTIONS else ""
        grouped.setdefault(key, []).append(thread)
    return [
        SectionThreads(section=name, label=section_label(name), threads=grouped[name])
        for name in order
        if name in grouped
    ]
