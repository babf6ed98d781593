"""Every write to a review goes through these functions: the web UI, the API, the demo loader
and the importers all call them, so the rules (one transaction, a new version, analysis
requested after commit) hold whichever door a change came through."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone
from django.utils.text import slugify

from review_templates.requirements import check_required_sections
from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern

from . import permissions
from .models import (
    ActionItem,
    Comment,
    Component,
    ContributingFactor,
    Incident,
    PatternLink,
    Revision,
    SuggestionDecision,
    TimelineEvent,
)
from .revisions import record_revision

logger = logging.getLogger(__name__)

# Scalar fields of Incident that a review's author may set.
EDITABLE_FIELDS = (
    "title",
    "status",
    "severity",
    "started_at",
    "detected_at",
    "mitigated_at",
    "resolved_at",
    "summary",
    "impact",
    "users_affected",
    "users_affected_count",
    "narrative",
    "went_well",
    "where_lucky",
    "complexity",
    "coupling",
    "restricted_to",
    "external_id",
    "source_url",
    "organisation",
    # Whether a timeline imported from chat keeps people's names (blameless: off).
    "timeline_names_allowed",
    # The review template it is written from (chosen when the review is created).
    "template",
)


@dataclass
class TimelineEntry:
    """One timeline event as an author wrote it."""

    occurred_at: datetime
    text: str
    kind: str = TimelineEvent.Kind.OBSERVATION
    why_reasonable: str = ""


@dataclass
class ActionEntry:
    """One action item as an author wrote it."""

    title: str
    owner: str = ""
    status: str = ActionItem.Status.OPEN
    due: date | None = None
    tracker_url: str = ""
    kind: str = ActionItem.Kind.COMPONENT_PATCH
    leverage_level: LeverageLevel | None = None
    pattern: StructuralPattern | None = None
    completed_at: datetime | None = None
    # A person or a team in Seams (`owner` is the owner as written, e.g. by an import).
    owner_user: AbstractBaseUser | None = None
    owner_team: Group | None = None
    # Who closed it (done or won't do); None lets the write record who closes it now.
    closed_by: AbstractBaseUser | None = None
    # The stored item this entry is (None: a new item). Kept, an item keeps its identity
    # across saves: the reminders and inbox entries about it, and its API address.
    id: int | None = None


@dataclass
class PatternClaim:
    """An author's claim that the incident shows a pattern, and why."""

    pattern: StructuralPattern
    rationale: str


@dataclass
class ReviewContent:
    """Everything a review says: the incident's fields and all its parts."""

    fields: dict[str, Any]
    shapes: list[EmergentShape] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    factors: list[str] = field(default_factory=list)
    actions: list[ActionEntry] = field(default_factory=list)
    patterns: list[PatternClaim] = field(default_factory=list)


class ConcurrentEditError(Exception):
    """Someone else saved the review since this editor loaded it."""

    def __init__(self, incident: Incident, expected_version: int) -> None:
        self.incident = incident
        self.expected_version = expected_version
        super().__init__(
            f"Incident {incident.pk} is at version {incident.version}, "
            f"not {expected_version}: it was changed by someone else meanwhile."
        )


def components_named(names: list[str]) -> list[Component]:
    """The components with these names, creating the ones Seams has not seen yet.

    Names that differ only in case or punctuation are the same component (same slug).
    """
    result: list[Component] = []
    seen: set[str] = set()
    for raw in names:
        name = raw.strip()
        slug = slugify(name)[:200]
        if not name or not slug or slug in seen:
            continue
        seen.add(slug)
        component, _ = Component.objects.get_or_create(slug=slug, defaults={"name": name[:200]})
        result.append(component)
    return result


# An action item is closed when done or given up (won't do): it then records who closed it
# and when, and reopening it clears both.
CLOSED_STATUSES = (ActionItem.Status.DONE, ActionItem.Status.WONT_DO)
_ACTION_FIELDS = ("title", "owner", "owner_user", "owner_team", "status", "due", "tracker_url",
                  "kind", "leverage_level", "pattern", "completed_at", "closed_by")  # fmt: skip


def _closure(
    entry: ActionEntry, item: ActionItem | None, by: AbstractBaseUser | None, now: datetime
) -> tuple[datetime | None, AbstractBaseUser | int | None]:
    """When the item was closed and by whom (a user or a user id), for an entry written over
    `item` (None: a new item).

    An item that stays closed keeps both, whatever else changed: recurrence analysis compares
    the moment it was done with the next incident's start. An entry that carries its moment
    (a restored revision, the editor's unchanged row) keeps it. One newly closed is closed now,
    by whoever writes. Reopened, it has neither.
    """
    if entry.status not in CLOSED_STATUSES:
        return None, None
    same = item is not None and item.status == entry.status
    if entry.completed_at is not None:
        kept_by = item.closed_by_id if same else None
        return entry.completed_at, entry.closed_by or kept_by
    if same:
        return item.completed_at, item.closed_by_id
    return now, by if getattr(by, "is_authenticated", False) else None


def _write_actions(
    incident: Incident, actions: list[ActionEntry], by: AbstractBaseUser | None
) -> None:
    """Write the review's action items, updating in place the stored items the entries name.

    Items keep their ids across saves, so what refers to one (its reminders and inbox
    entries, its API address) survives the review being edited. Items are listed by id, so
    an entry keeps its item only while the ids stay in the entries' order; from the first new
    entry on, the rest are written anew (new rows come after every stored one).
    """
    stored = {item.pk: item for item in ActionItem.objects.filter(incident=incident)}
    now = timezone.now()
    plan: list[tuple[ActionItem | None, ActionEntry]] = []
    last_kept = 0
    writing_anew = False
    for entry in actions:
        item = stored.get(entry.id) if entry.id is not None else None
        if writing_anew or item is None or item.pk <= last_kept:
            writing_anew = True
            plan.append((None, entry))
        else:
            last_kept = item.pk
            plan.append((item, entry))
    kept_ids = {item.pk for item, _ in plan if item is not None}
    ActionItem.objects.filter(incident=incident).exclude(pk__in=kept_ids).delete()
    changed: list[ActionItem] = []
    new: list[ActionItem] = []
    for item, entry in plan:
        completed_at, closed_by = _closure(entry, item, by, now)
        values = {
            "title": entry.title,
            "owner": entry.owner,
            "owner_user_id": entry.owner_user.pk if entry.owner_user is not None else None,
            "owner_team_id": entry.owner_team.pk if entry.owner_team is not None else None,
            "status": entry.status,
            "due": entry.due,
            "tracker_url": entry.tracker_url,
            "kind": entry.kind,
            "leverage_level_id": entry.leverage_level.pk if entry.leverage_level else None,
            "pattern_id": entry.pattern.pk if entry.pattern is not None else None,
            "completed_at": completed_at,
            "closed_by_id": getattr(closed_by, "pk", closed_by),
        }
        if item is None:
            new.append(ActionItem(incident=incident, **values))
        elif any(getattr(item, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(item, name, value)
            changed.append(item)
    if changed:
        ActionItem.objects.bulk_update(changed, _ACTION_FIELDS)
    ActionItem.objects.bulk_create(new)


def _write_parts(incident: Incident, content: ReviewContent, by: AbstractBaseUser | None) -> None:
    incident.shapes.set(content.shapes)
    incident.components.set(components_named(content.components))
    incident.timeline.all().delete()
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=incident,
            occurred_at=e.occurred_at,
            kind=e.kind,
            text=e.text,
            why_reasonable=e.why_reasonable,
        )
        for e in content.timeline
    )
    incident.contributing_factors.all().delete()
    ContributingFactor.objects.bulk_create(
        ContributingFactor(incident=incident, text=text, position=i)
        for i, text in enumerate(content.factors)
    )
    _write_actions(incident, content.actions, by)
    # Pattern links keep who added them and when, so only changed links are rewritten.
    wanted = {claim.pattern.pk: claim for claim in content.patterns}
    existing = {link.pattern_id: link for link in incident.pattern_links.all()}
    incident.pattern_links.exclude(pattern_id__in=wanted).delete()
    for pattern_id, claim in wanted.items():
        link = existing.get(pattern_id)
        if link is None:
            PatternLink.objects.create(
                incident=incident, pattern=claim.pattern, rationale=claim.rationale, added_by=by
            )
        elif link.rationale != claim.rationale:
            link.rationale = claim.rationale
            link.save(update_fields=["rationale"])


# Sent inside the transaction of every write to a review, once its parts are written, so what
# is derived from the text at once (the search index) never lags behind what was saved.
review_written = Signal()  # sender=Incident, incident_id=…
# Sent inside the transaction that sends a review to its named reviewers, and of every new
# comment, so apps above this one (the review workflow's notifications) can act on them.
review_requested = Signal()  # sender=Incident, incident=…, by=…, reviewers=[…]
comment_added = Signal()  # sender=Comment, comment=…, by=…
# Sent once a publication is committed (never for one rolled back), for apps above this one
# that tell the outside world (webhooks).
review_published = Signal()  # sender=Incident, incident=…, by=…


def _request_analysis(incident: Incident) -> None:
    """Mark the incident as needing analysis and queue the job once the write is committed.

    The mark is written in the same transaction as the review, so if queueing fails (broker
    down) or the worker dies, the sweep still finds the incident and catches it up.
    """
    from .tasks import enqueue_analysis

    now = timezone.now()
    Incident.objects.filter(pk=incident.pk).update(analysis_requested_at=now)
    incident.analysis_requested_at = now
    review_written.send(sender=Incident, incident_id=incident.pk)
    transaction.on_commit(lambda: enqueue_analysis(incident.pk))


def incident_create(
    *, by: AbstractBaseUser | None, content: ReviewContent, note: str = ""
) -> Incident:
    """Create a review with all its parts, and ask for it to be analysed after commit."""
    unknown = set(content.fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        incident = Incident.objects.create(created_by=by, **content.fields)
        _write_parts(incident, content, by)
        record_revision(incident=incident, by=by, note=note)
        _request_analysis(incident)
    return incident


def _claim(incident_pk: int, expected_version: int | None) -> bool:
    """Take the review for this write, as the transaction's first statement.

    A conditional UPDATE bumps the version: on PostgreSQL it holds the row lock until
    commit, so a second writer waits here and then sees the first one's version; on SQLite
    (which has no row locks) a write as the first statement takes the database's write lock
    at once, before anything is read, so two read-then-write transactions cannot interleave.
    Returns False when the review is not at `expected_version` (or no longer exists).
    """
    version_filter = {} if expected_version is None else {"version": expected_version}
    return bool(
        Incident.objects.filter(pk=incident_pk, **version_filter).update(
            version=F("version") + 1, updated_at=timezone.now()
        )
    )


def _lock(incident_pk: int) -> None:
    """Take the review's write lock without changing it (see `_claim` for why a write)."""
    Incident.objects.filter(pk=incident_pk).update(version=F("version"))


def _refused(incident: Incident, expected_version: int | None) -> ConcurrentEditError:
    incident.refresh_from_db()
    return ConcurrentEditError(incident, expected_version or 0)


def _write_review(
    incident_pk: int, content: ReviewContent, by: AbstractBaseUser | None, note: str
) -> Incident:
    """Write the content over the (already claimed) review and keep it as a revision.

    Works on a fresh instance: a caller's object may carry prefetched parts from before the
    lock, and the revision must record what is stored now, not what was read then.
    """
    incident = Incident.objects.get(pk=incident_pk)
    for name, value in content.fields.items():
        setattr(incident, name, value)
    incident.save(update_fields=[*content.fields, "updated_at"])
    _write_parts(incident, content, by)
    record_revision(incident=incident, by=by, note=note)
    _request_analysis(incident)
    return incident


def incident_update(
    *,
    incident: Incident,
    by: AbstractBaseUser | None,
    content: ReviewContent,
    expected_version: int | None = None,
    note: str = "",
) -> Incident:
    """Replace a review's content, refusing if it changed since `expected_version` was read.

    The version check is the conditional UPDATE that also locks the review, so two
    simultaneous saves cannot both pass it. Returns the stored review.
    """
    unknown = set(content.fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        if not _claim(incident.pk, expected_version):
            raise _refused(incident, expected_version)
        saved = _write_review(incident.pk, content, by, note)
    incident.refresh_from_db()
    return saved


# --- restoring ---------------------------------------------------------------------------


RESTORED_TEXT_FIELDS = ("title", "severity", "summary", "impact", "users_affected",
                        "narrative", "went_well", "where_lucky", "organisation")  # fmt: skip


def _action_owners(actions: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Group]]:
    """The people (by username) and teams (by name) a snapshot's action items name."""
    from django.contrib.auth import get_user_model

    names = {a.get(key) for a in actions for key in ("owner_user", "closed_by")} - {None, ""}
    team_names = {a.get("owner_team") for a in actions} - {None, ""}
    user_model = get_user_model()
    users = (
        {u.get_username(): u for u in user_model._default_manager.filter(
            **{f"{user_model.USERNAME_FIELD}__in": names})}
        if names
        else {}
    )  # fmt: skip
    teams = {t.name: t for t in Group.objects.filter(name__in=team_names)} if team_names else {}
    return users, teams


def content_from_snapshot(snap: dict[str, Any]) -> ReviewContent:
    """Rebuild a service input from a revision's snapshot (for restore)."""
    from django.utils.dateparse import parse_date, parse_datetime

    from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern

    patterns = {p.slug: p for p in StructuralPattern.objects.all()}
    levels = {lvl.slug: lvl for lvl in LeverageLevel.objects.all()}
    users, teams = _action_owners(snap.get("actions", []))
    fields = {
        name: snap.get(name, "")
        # Status is workflow, not text: restoring old words does not unpublish a review.
        for name in RESTORED_TEXT_FIELDS
    }
    for name in ("started_at", "detected_at", "mitigated_at", "resolved_at"):
        fields[name] = parse_datetime(snap[name]) if snap.get(name) else None
    fields["complexity"] = snap.get("complexity")
    fields["coupling"] = snap.get("coupling")
    fields["users_affected_count"] = snap.get("users_affected_count")
    # Restoring brings names back only as far as the current setting already allows: like
    # the restriction, it is never loosened by restoring an older save.
    if "timeline_names_allowed" in snap and not snap["timeline_names_allowed"]:
        fields["timeline_names_allowed"] = False
    return ReviewContent(
        fields=fields,
        shapes=list(EmergentShape.objects.filter(slug__in=snap.get("shapes", []))),
        components=list(snap.get("components", [])),
        timeline=[
            TimelineEntry(
                occurred_at=parse_datetime(e["occurred_at"]),
                kind=e["kind"],
                text=e["text"],
                why_reasonable=e.get("why_reasonable", ""),
            )
            for e in snap.get("timeline", [])
        ],
        factors=list(snap.get("factors", [])),
        actions=[
            ActionEntry(
                title=a["title"],
                owner=a.get("owner", ""),
                status=a.get("status", "open"),
                due=parse_date(a["due"]) if a.get("due") else None,
                tracker_url=a.get("tracker_url", ""),
                kind=a.get("kind", ActionItem.Kind.COMPONENT_PATCH),
                leverage_level=levels.get(a.get("leverage_level") or ""),
                pattern=patterns.get(a.get("pattern") or ""),
                completed_at=parse_datetime(a["completed_at"]) if a.get("completed_at") else None,
                # By name: a person or team renamed or deleted since is no longer the owner.
                owner_user=users.get(a.get("owner_user") or ""),
                owner_team=teams.get(a.get("owner_team") or ""),
                closed_by=users.get(a.get("closed_by") or ""),
                id=a.get("id"),
            )
            for a in snap.get("actions", [])
        ],
        # A pattern deleted from the catalogue since cannot be linked again; skip it.
        patterns=[
            PatternClaim(pattern=patterns[p["slug"]], rationale=p["rationale"])
            for p in snap.get("patterns", [])
            if p["slug"] in patterns
        ],
    )


def revision_restore(
    *, revision: Revision, by: AbstractBaseUser | None, expected_version: int | None = None
) -> Incident:
    """Make an old revision the current text, as a new save (nothing after it is lost)."""
    return incident_update(
        incident=revision.incident,
        by=by,
        content=content_from_snapshot(revision.snapshot),
        expected_version=expected_version,
        note=f"Restored version {revision.version}",
    )


# --- workflow ----------------------------------------------------------------------------


class PublishBlocked(Exception):
    """The review is missing sections a published review must have, or a publish gate
    (see `PUBLISH_GATES`) refuses it; `missing` says what, one item per reason."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__("missing: " + ", ".join(missing))


def missing_for_publication(incident: Incident) -> list[str]:
    """The sections a review still needs before it can be published, in reading order.

    Uses `.all()` so that a page which prefetched the parts pays no extra queries.
    """
    checks = [
        ("summary", bool(incident.summary.strip())),
        ("impact", bool(incident.impact.strip())),
        ("start time", incident.started_at is not None),
        ("narrative", bool(incident.narrative.strip())),
        ("at least one timeline event", bool(incident.timeline.all())),
        ("at least one contributing factor", bool(incident.contributing_factors.all())),
        ("at least one action item", bool(incident.action_items.all())),
        ("at least one emergent shape", bool(incident.shapes.all())),
        (
            "at least one structural pattern with a rationale",
            any(link.rationale.strip() for link in incident.pattern_links.all()),
        ),
    ]
    return [name for name, ok in checks if not ok]


def _set_status(
    incident: Incident, status: str, by, note: str, *, check=None, before=None
) -> Incident:
    """Move the review to `status` as a new version, under the review's lock.

    `check(incident)` runs on the locked, freshly read review and may raise to refuse;
    `before(incident)` makes the changes that go with the move (e.g. naming reviewers).
    """
    with transaction.atomic():
        if not _claim(incident.pk, None):
            raise Incident.DoesNotExist(f"Incident {incident.pk} no longer exists.")
        current = Incident.objects.get(pk=incident.pk)
        if check is not None:
            check(current)
        if before is not None:
            before(current)
        current.status = status
        current.save(update_fields=["status", "updated_at"])
        record_revision(incident=current, by=by, note=note)
    incident.refresh_from_db()
    return current


def incident_request_review(
    *, incident: Incident, by: AbstractBaseUser | None, reviewers: list[AbstractBaseUser]
) -> Incident:
    """Move a draft to "in review" and name who reviews it; raise RequiredSectionsEmpty
    (a ValueError naming the sections) while a section its template requires is empty."""
    if not reviewers:
        raise ValueError("Name at least one reviewer.")
    if refused := sorted(r.get_username() for r in reviewers if not permissions.may_review(r)):
        raise ValueError(
            f"{', '.join(refused)} may not review: a reviewer needs the Reviewer or Admin "
            "role. Ask an admin of Seams."
        )
    names = ", ".join(sorted(r.get_username() for r in reviewers))

    def name_reviewers(current: Incident) -> None:
        current.reviewers.set(reviewers)
        # In the same transaction: whoever tells the reviewers does so exactly when this
        # request is stored.
        review_requested.send(sender=Incident, incident=current, by=by, reviewers=reviewers)

    return _set_status(
        incident,
        Incident.Status.IN_REVIEW,
        by,
        f"Sent for review to {names}",
        # Checked on the locked review, as publishing is: a concurrent save cannot empty a
        # section the template requires between the check and the move.
        check=check_required_sections,
        before=name_reviewers,
    )


# Conditions other apps put on publishing (the review workflow's approvals): each gate is
# called with the review and the version its readers saw, and returns what still stands in
# the way (empty: nothing). Registered in an AppConfig.ready(), so incidents imports nothing
# above it to enforce them.
PublishGate = Callable[[Incident, int], list[str]]
PUBLISH_GATES: list[PublishGate] = []


def register_publish_gate(gate: PublishGate) -> None:
    """Make publishing wait on `gate` as well (once, however often it is registered)."""
    if gate not in PUBLISH_GATES:
        PUBLISH_GATES.append(gate)


def publish_gate_reasons(incident: Incident, version: int | None = None) -> list[str]:
    """What the registered gates say still stands in the way of publishing the review at
    `version` (default: its current version)."""
    seen = incident.version if version is None else version
    return [reason for gate in PUBLISH_GATES for reason in gate(incident, seen)]


def _publishable(incident: Incident) -> None:
    missing = missing_for_publication(incident)
    # `_set_status` has claimed the review by bumping its version: the gates judge the
    # version before that, the one its reviewers saw.
    missing += publish_gate_reasons(incident, incident.version - 1)
    if missing:
        raise PublishBlocked(missing)


def incident_publish(*, incident: Incident, by: AbstractBaseUser | None) -> Incident:
    """Publish the review, or raise PublishBlocked saying which sections are missing.

    The sections are checked on the locked review, so a concurrent save cannot empty one
    between the check and the publication.
    """
    published = _set_status(
        incident, Incident.Status.PUBLISHED, by, "Published", check=_publishable
    )
    transaction.on_commit(lambda: review_published.send(sender=Incident, incident=published, by=by))
    return published


def comment_add(
    *,
    incident: Incident,
    by: AbstractBaseUser,
    body: str,
    parent: Comment | None = None,
    section: str = "",
) -> Comment:
    """A comment on the review: a new thread (anchored to `section`, or to the whole review
    when blank), or a reply to the comment that opened a thread (`parent`)."""
    if not body.strip():
        raise ValueError("A comment needs some text.")
    if parent is not None and (parent.parent_id is not None or parent.incident_id != incident.pk):
        raise ValueError("Reply to the comment that opened a thread on this review.")
    with transaction.atomic():
        comment = Comment.objects.create(
            incident=incident,
            author=by,
            body=body,
            parent=parent,
            section="" if parent is not None else section,
        )
        comment_added.send(sender=Comment, comment=comment, by=by)
    return comment


# --- suggestions -------------------------------------------------------------------------


def suggestion_decide(
    *,
    incident: Incident,
    by: AbstractBaseUser | None,
    decision: str,
    pattern=None,
    other_incident: Incident | None = None,
    rationale: str = "",
    link: bool = True,
) -> SuggestionDecision:
    """Record an author's answer to a suggestion. Accepting a pattern links it to the review
    (with the reason Seams gave, which the author can edit) unless `link` is False — the
    editor in the browser adds the link to the form instead, so the save the author is about
    to make does not collide with one made behind their back. Rejecting hides it for good."""
    if (pattern is None) == (other_incident is None):
        raise ValueError("Decide on exactly one pattern or one incident.")
    kind = SuggestionDecision.Kind.PATTERN if pattern else SuggestionDecision.Kind.INCIDENT
    with transaction.atomic():
        # Lock first: the decision and a pattern link read what is there before writing.
        _lock(incident.pk)
        row, _ = SuggestionDecision.objects.update_or_create(
            incident=incident,
            kind=kind,
            pattern=pattern,
            other_incident=other_incident,
            defaults={"decision": decision, "decided_by": by, "decided_at": timezone.now()},
        )
        if link and pattern is not None and decision == SuggestionDecision.Decision.ACCEPTED:
            link, created = PatternLink.objects.get_or_create(
                incident=incident,
                pattern=pattern,
                defaults={"rationale": rationale or "Suggested by Seams.", "added_by": by},
            )
            if created:
                _claim(incident.pk, None)
                current = Incident.objects.get(pk=incident.pk)
                record_revision(incident=current, by=by, note=f"Linked {pattern.name}")
                _request_analysis(current)
                incident.refresh_from_db()
    return row


# --- partial changes (the API's PATCH and appends) ------------------------------------------


def incident_patch(
    *,
    incident: Incident,
    by: AbstractBaseUser | None,
    fields: dict[str, Any] | None = None,
    shapes: list[EmergentShape] | None = None,
    components: list[str] | None = None,
    patterns: list[PatternClaim] | None = None,
    add_timeline: list[TimelineEntry] = (),
    add_actions: list[ActionEntry] = (),
    expected_version: int | None = None,
    note: str = "",
) -> Incident:
    """Change some parts of a review and keep the rest exactly as it is (a new version).

    The review is locked before its current content is read, so a concurrent change to
    other parts (another PATCH, an append) is kept, not overwritten with what was read
    before it. Returns the stored review.
    """
    from .revisions import snapshot

    unknown = set(fields or {}) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        if not _claim(incident.pk, expected_version):
            raise _refused(incident, expected_version)
        current = Incident.objects.get(pk=incident.pk)
        content = content_from_snapshot(snapshot(current))
        content.fields.update(fields or {})
        if shapes is not None:
            content.shapes = shapes
        if components is not None:
            content.components = components
        if patterns is not None:
            content.patterns = patterns
        content.timeline = sorted(
            [*content.timeline, *add_timeline],
            key=lambda e: (e.occurred_at is None, e.occurred_at),
        )
        content.actions = [*content.actions, *add_actions]
        saved = _write_review(incident.pk, content, by, note)
    incident.refresh_from_db()
    return saved


def action_item_set_status(
    *, item: ActionItem, by: AbstractBaseUser | None, status: str
) -> ActionItem:
    """Give one action item a new status, as a new version of its review (every other part
    kept as it is): closing it (done, won't do) records who closed it and when, reopening it
    clears both. A status it already has writes nothing.

    Raises `ActionItem.DoesNotExist` when the item was removed from its review meanwhile.
    """
    from .revisions import snapshot

    if status not in ActionItem.Status.values:
        raise ValueError(f"unknown status {status!r}")
    with transaction.atomic():
        # Locked before the item is read: a concurrent save of the review waits, then sees it.
        _lock(item.incident_id)
        current = ActionItem.objects.get(pk=item.pk)
        if current.status == status:
            return current
        _claim(current.incident_id, None)
        incident = Incident.objects.get(pk=current.incident_id)
        content = content_from_snapshot(snapshot(incident))
        for entry in content.actions:
            if entry.id == current.pk:
                entry.status = status
                entry.completed_at = None
                entry.closed_by = None
        label = ActionItem.Status(status).label.lower()
        _write_review(incident.pk, content, by, f"Action item “{current.title}” marked {label}")
    return ActionItem.objects.get(pk=item.pk)


# --- edits made outside these services (the admin) ----------------------------------------


def incident_hold_at_version(*, incident_pk: int, expected_version: int) -> bool:
    """Lock the review for a write that happens elsewhere, if it is still at
    `expected_version`; False when someone saved it since (nothing is changed then).

    The same conditional UPDATE as `_claim`, without bumping: the caller's transaction keeps
    the lock (PostgreSQL's row lock, SQLite's write lock) until it commits, so no other save
    can slip in between this check and the caller's write.
    """
    return bool(
        Incident.objects.filter(pk=incident_pk, version=expected_version).update(
            version=F("version")
        )
    )


def incident_changed_elsewhere(
    *, incident: Incident, by: AbstractBaseUser | None, note: str = ""
) -> Incident:
    """Keep a change written outside these services (the admin) in the review's history.

    Bumps the version (so a form opened before it is refused), records a revision of what is
    stored now and asks for analysis, as any save here does. A review created there with no
    revision yet gets its first one at its first version.
    """
    with transaction.atomic():
        if incident.revisions.exists():
            _claim(incident.pk, None)
        current = Incident.objects.get(pk=incident.pk)
        record_revision(incident=current, by=by, note=note)
        _request_analysis(current)
    incident.refresh_from_db()
    return current
