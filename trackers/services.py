"""Linking action items to tracker issues, letting the trackers' status flow back, and,
where a connection says so, sending an item closed or reopened in Seams to its issue.

Writes only: asking for a link (`tracked_issue_create`, `tracked_issue_link`), doing it
(`push_issue`, run by a job), taking in what a tracker says (`apply_remote`, from webhooks
and polls) and polling (`poll_connection`). Views, serializers and tasks call these.

How status maps: "done" in the tracker (GitHub closed as completed, a Jira status in the
Done category, a Linear state of type completed) closes the item as done; closed without
being done (GitHub not planned or duplicate, Linear canceled) closes it as won't do; reopened
reopens it. Seams acts on *changes* of the tracker's state only, so a change made in Seams
(closing an item whose issue stays open) holds until the tracker's state changes again.

The other way (`close_from_seams` on the connection): every save of a review notes which
linked items were closed or reopened since Seams and the tracker last agreed
(`note_item_statuses`), and a job closes or reopens their issues (`push_status`). A change
the tracker made is never sent back to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from actions.selectors import OPEN_STATUSES
from incidents.models import ActionItem
from incidents.services import action_item_set_status
from notifications.models import Notification
from notifications.services import notify

from . import clients
from .clients import NewIssue, NotModified, RemoteIssue, TrackerError
from .models import TrackedIssue, TrackerConnection

logger = logging.getLogger(__name__)

# How long one job may hold a link while it talks to the tracker (its hard time limit, and
# some): a second job for the same link waits this out instead of creating a second issue.
CLAIM_FOR = timedelta(seconds=120)
RESTRICTED_REFUSED = (
    "This review is restricted; its action items may be sent only to a tracker connection "
    "allowed for restricted reviews, which this one is not. Link an existing issue instead, "
    "or ask an admin."
)


class TrackerRefused(Exception):
    """A link Seams will not make; `status` is the HTTP answer that says why (400, 403,
    409)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


# --- asking for a link ---------------------------------------------------------------------


def _replaceable(item: ActionItem) -> TrackedIssue | None:
    """The item's link if it failed (asking again reuses it, marker and all); refuses when a
    working link exists."""
    link = TrackedIssue.objects.filter(action_item=item).first()
    if link is not None and link.state != TrackedIssue.State.FAILED:
        raise TrackerRefused(
            f"This action item is already linked to {link} in {link.connection}.", 409
        )
    return link


def _ask(
    *, item: ActionItem, connection: TrackerConnection, by: AbstractBaseUser | None, **fields
) -> TrackedIssue:
    """Write the intent (the row, before any call to the tracker) and queue its job after
    commit."""
    if not connection.enabled:
        raise TrackerRefused(f"The connection {connection} is switched off.", 400)
    try:
        return _write_intent(item=item, connection=connection, by=by, fields=fields)
    except IntegrityError as error:
        # Two requests at once where rows cannot be locked (SQLite): the other one won.
        raise TrackerRefused("This action item was linked meanwhile.", 409) from error


def _write_intent(
    *, item: ActionItem, connection: TrackerConnection, by: AbstractBaseUser | None, fields: dict
) -> TrackedIssue:
    """The link's row, new or reused (a failed one keeps its marker, so a retry still finds
    an issue its lost answer made), with its job queued once the row is committed."""
    from .tasks import enqueue_push  # tasks call these services: imported when needed

    with transaction.atomic():
        # Locks the item's row: two requests at once make one link (the other gets 409).
        ActionItem.objects.select_for_update().filter(pk=item.pk).first()
        link = _replaceable(item) or TrackedIssue(action_item=item)
        if link.pk and link.connection_id != connection.pk:
            # Another tracker: the old marker means nothing there.
            link.delete()
            link = TrackedIssue(action_item=item)
        link.connection = connection
        link.requested_by = by if by is not None and by.is_authenticated else None
        link.requested_at = timezone.now()
        link.last_error = ""
        link.claimed_until = None
        for name, value in fields.items():
            setattr(link, name, value)
        link.save()
        transaction.on_commit(lambda: enqueue_push(link.pk))
    return link


def tracked_issue_create(
    *, item: ActionItem, connection: TrackerConnection, by: AbstractBaseUser | None
) -> TrackedIssue:
    """Ask for an issue to be created in the tracker for this item (a job creates it).

    Refused (403) for an item of a restricted review unless the connection is allowed for
    restricted reviews: its title would leave Seams. Refused (409) when the item is linked.
    """
    if item.incident.restricted_to_id is not None and not connection.allow_restricted:
        raise TrackerRefused(RESTRICTED_REFUSED, 403)
    return _ask(item=item, connection=connection, by=by, state=TrackedIssue.State.CREATING)


def tracked_issue_link(
    *, item: ActionItem, connection: TrackerConnection, by: AbstractBaseUser | None, reference: str
) -> TrackedIssue:
    """Link the item to an existing issue (its address or key); a job reads its status.
    Nothing of the review is sent, so this is allowed for restricted reviews too."""
    try:
        parsed = clients.client_for(connection).parse(reference)
    except ValueError as error:
        raise TrackerRefused(str(error), 400) from error
    taken = (
        TrackedIssue.objects.filter(connection=connection, key=parsed.key)
        .exclude(action_item=item)
        .exclude(state=TrackedIssue.State.FAILED)
        .exists()
    )
    if taken:
        raise TrackerRefused(f"{parsed.key} is already linked to another action item.", 409)
    return _ask(
        item=item,
        connection=connection,
        by=by,
        state=TrackedIssue.State.LINKING,
        key=parsed.key,
        number=parsed.number,
        external_id="",
    )


# --- doing it (the job) -------------------------------------------------------------------


def _claim(link_id: int) -> bool:
    """Hold the link for this job, if it still needs one and no other job holds it. A
    conditional UPDATE: of two jobs at once, one gets the row."""
    now = timezone.now()
    return bool(
        TrackedIssue.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            pk=link_id,
            state__in=(TrackedIssue.State.CREATING, TrackedIssue.State.LINKING),
        ).update(claimed_until=now + CLAIM_FOR)
    )


def release(link_id: int) -> None:
    """Let the next try (a retry, the sweep) take the link at once."""
    TrackedIssue.objects.filter(pk=link_id).update(claimed_until=None)


def new_issue_for(link: TrackedIssue) -> NewIssue:
    """What the issue says: the item's title, what kind of fix it is, and a link back to the
    review. Never the review's text (its summary, timeline, factors)."""
    from django.conf import settings

    item = link.action_item
    review = f"{settings.SEAMS_BASE_URL.rstrip('/')}{item.incident.get_absolute_url()}"
    parts = [f"An action item of a Seams review ({item.get_kind_display().lower()})."]
    if item.due:
        parts.append(f"Due {item.due.isoformat()}.")
    return NewIssue(title=item.title, text=" ".join(parts), link=review, marker=str(link.marker))


def push_issue(link_id: int) -> TrackedIssue | None:
    """Create the issue (or read the linked one) and record it. Idempotent: a link already
    done is left alone, and before creating, the issue a lost answer may have created is
    looked up by its marker. Raises `TrackerError` (the job retries the transient ones)."""
    if not _claim(link_id):
        return None
    link = TrackedIssue.objects.select_related("connection", "action_item__incident").get(
        pk=link_id
    )
    restricted = link.action_item.incident.restricted_to_id is not None
    if (
        link.state == TrackedIssue.State.CREATING
        and restricted
        and not link.connection.allow_restricted
    ):
        # Restricted since it was asked for (or the connection was changed): nothing is sent.
        raise TrackerError(RESTRICTED_REFUSED, transient=False)
    client = clients.client_for(link.connection)
    if link.state == TrackedIssue.State.CREATING:
        remote = client.find(str(link.marker), link.created_at)
        if remote is None:
            remote = client.create(new_issue_for(link))
    else:
        remote = client.fetch(link)
    link = _record(link_id, remote, linked=True)
    logger.info("action item %s linked to %s in %s", link.action_item_id, link, link.connection)
    return link


def push_failed(link_id: int, error: str) -> None:
    """Record that the link could not be made (after the job's last try, or at once for an
    error no retry helps), for the item's page and the API to show, and tell the person who
    asked for it: the job ran after their request had answered, so nobody else would."""
    failed = TrackedIssue.objects.filter(pk=link_id).exclude(state=TrackedIssue.State.LINKED)
    failed.update(state=TrackedIssue.State.FAILED, last_error=error[:2000], claimed_until=None)
    logger.error("tracker link %s failed: %s", link_id, error)
    # Read after the update: a link made meanwhile (LINKED) is not there to report.
    link = failed.select_related("action_item__incident", "connection", "requested_by").first()
    if link is None or link.requested_by is None:
        return
    item = link.action_item
    doing = "create the issue" if link.key == "" else f"link {link.key}"
    notify(
        recipients=[link.requested_by],
        kind=Notification.Kind.TRACKER_LINK_FAILED,
        text=f"Could not {doing} in {link.connection} for “{item.title}”: {error}",
        url=f"{item.incident.get_absolute_url()}#actions-heading",
        incident=item.incident,
        action_item=item,
        # Once per request: a job run twice tells once, asking again and failing again
        # tells again.
        key=f"tracker-link-failed:{link.pk}:{link.requested_at.isoformat()}",
    )


# --- status flowing back ------------------------------------------------------------------


def actor_for(connection: TrackerConnection) -> AbstractBaseUser:
    """The account recorded as closing the items this tracker closes: the connection's own
    (made on first use, inactive and without a password, so nobody signs in with it)."""
    if connection.acting_user_id is not None:
        return connection.acting_user
    User = get_user_model()
    name = f"{connection.kind}-tracker-{connection.pk}"
    user = User.objects.filter(username=name).first()
    if user is None:
        user = User(username=name, first_name=connection.name[:150], is_active=False)
        user.set_unusable_password()
        user.save()
    TrackerConnection.objects.filter(pk=connection.pk).update(acting_user=user)
    connection.acting_user = user
    return user


@dataclass(frozen=True)
class Applied:
    """What taking in one remote state did: the item's new status, or None."""

    link: TrackedIssue
    status: str | None = None


def _record(link_id: int, remote: RemoteIssue, *, linked: bool = False) -> TrackedIssue:
    """Store what the tracker says and move the item when the tracker's state changed."""
    return apply_remote(link_id, remote, linked=linked).link


def _target(previous: str, now: str, item_status: str) -> str | None:
    """The item's new status when the tracker's state went from `previous` to `now`."""
    if now == previous:
        return None
    if now == TrackedIssue.Remote.DONE and item_status in OPEN_STATUSES:
        return ActionItem.Status.DONE
    if now == TrackedIssue.Remote.WONT_DO and item_status in OPEN_STATUSES:
        return ActionItem.Status.WONT_DO
    if now == TrackedIssue.Remote.OPEN and previous and item_status not in OPEN_STATUSES:
        return ActionItem.Status.OPEN  # reopened in the tracker
    return None


def apply_remote(link_id: int, remote: RemoteIssue, *, linked: bool = False) -> Applied:
    """Take in what a tracker says about a linked issue (a webhook, a poll, the job that
    made the link). An answer older than what Seams has (events arrive out of order) changes
    nothing. When the tracker's state changed, the item is closed or reopened through the
    same service as any close, recorded as done by the connection's account."""
    with transaction.atomic():
        link = (
            TrackedIssue.objects.select_for_update()
            .select_related("connection", "action_item")
            .get(pk=link_id)
        )
        stale = (
            remote.updated_at is not None
            and link.remote_updated_at is not None
            and remote.updated_at < link.remote_updated_at
        )
        if stale:
            return Applied(link)
        previous = link.remote_state
        link.remote_state = remote.state
        link.remote_status = remote.status or link.remote_status
        link.remote_updated_at = remote.updated_at or link.remote_updated_at
        link.remote_actor = remote.actor or link.remote_actor
        link.external_id = remote.external_id or link.external_id
        link.key = remote.key or link.key
        link.number = remote.number if remote.number is not None else link.number
        link.url = remote.url or link.url
        link.etag = remote.etag or link.etag
        link.last_synced_at = timezone.now()
        if linked:
            link.state = TrackedIssue.State.LINKED
            link.last_error = ""
            link.claimed_until = None
        status = _target(previous, remote.state, link.action_item.status)
        # What the item is (or is about to become) because of what the tracker says: Seams
        # and the tracker agree on it, so it is no change of Seams' to send back.
        link.item_status_seen = status or link.action_item.status
        if status is not None:
            link.push_wanted_at = None  # the tracker's newer change wins over a waiting one
        link.save()
        if status is not None:
            try:
                action_item_set_status(
                    item=link.action_item, by=actor_for(link.connection), status=status
                )
            except ActionItem.DoesNotExist:
                return Applied(link)  # removed from its review meanwhile: nothing to close
            logger.info(
                "action item %s marked %s: %s says %s",
                link.action_item_id,
                status,
                link,
                remote.status or remote.state,
            )
    return Applied(link, status)


@dataclass(frozen=True)
class Polled:
    """What one poll of one connection found."""

    checked: int = 0
    unchanged: int = 0
    changed: int = 0


def poll_connection(connection_id: int) -> Polled:
    """Ask the tracker for the state of this connection's linked issues: GitHub issue by
    issue with the ETag last seen (an unchanged issue answers 304, which costs no rate
    limit); Jira and Linear by one search for the issues updated since the last poll.
    Raises `TrackerError` (the job retries the transient ones)."""
    connection = TrackerConnection.objects.get(pk=connection_id)
    # Least recently synced first: a poll cut short by its time limit is taken up where it
    # stopped by the next one, instead of always reaching the same issues.
    links = list(
        TrackedIssue.objects.filter(
            connection=connection, state=TrackedIssue.State.LINKED
        ).order_by(F("last_synced_at").asc(nulls_first=True), "id")
    )
    client = clients.client_for(connection)
    started = timezone.now()
    changed = unchanged = 0
    if connection.kind == TrackerConnection.Kind.GITHUB:
        for link in links:
            try:
                remote = client.fetch(link, etag=link.etag)
            except NotModified:
                TrackedIssue.objects.filter(pk=link.pk).update(last_synced_at=started)
                unchanged += 1
                continue
            changed += apply_remote(link.pk, remote).status is not None
        return Polled(checked=len(links), unchanged=unchanged, changed=changed)
    by_key = {link.key: link for link in links}
    by_id = {link.external_id: link for link in links if link.external_id}
    found = client.changed(links, connection.polled_at) if links else []
    for remote in found:
        link = by_id.get(remote.external_id) or by_key.get(remote.key)
        if link is not None:
            changed += apply_remote(link.pk, remote).status is not None
    TrackerConnection.objects.filter(pk=connection.pk).update(polled_at=started)
    return Polled(checked=len(found), unchanged=len(links) - len(found), changed=changed)


# --- status flowing out: closed or reopened in Seams ----------------------------------------

PUSH_FAILED = "Could not {doing} {key} in {connection}: {error}"


def _closed(status: str) -> bool:
    return status not in OPEN_STATUSES


def _remote_closed(remote_state: str) -> bool:
    return remote_state in (TrackedIssue.Remote.DONE, TrackedIssue.Remote.WONT_DO)


def note_item_statuses(incident_id: int) -> list[int]:
    """After a save of a review (any save: the editor, the API, a status change, a restore):
    for each of its linked items whose status changed since Seams and the tracker last
    agreed, and whose connection closes issues from Seams, mark the change as waiting and
    queue its job after commit. Only closed against open counts (done and won't do are both
    closed). Returns the links now waiting."""
    from .tasks import enqueue_status_push  # tasks call these services: imported when needed

    now = timezone.now()
    waiting = []
    links = TrackedIssue.objects.filter(
        action_item__incident_id=incident_id, state=TrackedIssue.State.LINKED
    ).select_related("connection", "action_item")
    for link in links:
        status = link.action_item.status
        if status == link.item_status_seen:
            continue
        send = (
            link.connection.enabled
            and link.connection.close_from_seams
            and _closed(status) != _remote_closed(link.remote_state)
        )
        # Not sending also withdraws a change still waiting: the item is back to what the
        # tracker says, or the connection no longer closes issues. Either way an earlier
        # failure to send is no longer news.
        TrackedIssue.objects.filter(pk=link.pk).update(
            item_status_seen=status, push_wanted_at=now if send else None, last_error=""
        )
        if send:
            waiting.append(link.pk)
    for pk in waiting:
        transaction.on_commit(lambda pk=pk: enqueue_status_push(pk))
    return waiting


def _claim_push(link_id: int):
    """Hold a link whose change waits, for this job; the moment it began waiting, or None
    when nothing waits or another job holds it."""
    now = timezone.now()
    waiting = TrackedIssue.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk=link_id,
        state=TrackedIssue.State.LINKED,
        push_wanted_at__isnull=False,
    )
    wanted_at = waiting.values_list("push_wanted_at", flat=True).first()
    if wanted_at is None:
        return None
    held = waiting.filter(push_wanted_at=wanted_at).update(claimed_until=now + CLAIM_FOR)
    return wanted_at if held else None


def _settle(link_id: int, wanted_at, **fields) -> bool:
    """Mark the change that waited since `wanted_at` as done with and let the link go.
    True when a newer change waits (made while this one was being sent)."""
    TrackedIssue.objects.filter(pk=link_id, push_wanted_at=wanted_at).update(
        push_wanted_at=None, **fields
    )
    release(link_id)
    return TrackedIssue.objects.filter(pk=link_id, push_wanted_at__isnull=False).exists()


@dataclass(frozen=True)
class Pushed:
    """What sending one item's status to its tracker did."""

    sent: str | None = None  # the state asked of the tracker; None when nothing was sent
    again: bool = False  # a newer change waits: queue the job again


def push_status(link_id: int) -> Pushed:
    """Close or reopen the linked issue as its item now is in Seams, and record what the
    tracker says afterwards. Idempotent: when the issue already agrees (a retry after a lost
    answer, a tracker quicker than the job) nothing is sent. Raises `TrackerError` (the job
    retries the transient ones)."""
    wanted_at = _claim_push(link_id)
    if wanted_at is None:
        return Pushed()
    link = TrackedIssue.objects.select_related("connection", "action_item").get(pk=link_id)
    status = link.action_item.status
    agrees = _closed(status) == _remote_closed(link.remote_state)
    if agrees or not (link.connection.enabled and link.connection.close_from_seams):
        return Pushed(again=_settle(link_id, wanted_at))
    if not _closed(status):
        target = TrackedIssue.Remote.OPEN
    elif status == ActionItem.Status.WONT_DO:
        target = TrackedIssue.Remote.WONT_DO
    else:
        target = TrackedIssue.Remote.DONE
    remote = clients.client_for(link.connection).set_state(link, target)
    apply_remote(link_id, remote)
    logger.info("%s in %s set %s: its action item is %s in Seams", link, link.connection,
                remote.status or remote.state, status)  # fmt: skip
    return Pushed(sent=target, again=_settle(link_id, wanted_at, last_error=""))


def push_status_failed(link_id: int, error: str) -> None:
    """Record that the item's change could not be sent (after the job's last try, or at once
    for an error no retry helps), on the item's page and in the API, and tell who made the
    change: the item's closer, else whoever linked the issue. The change stays made in
    Seams; the issue is left as it is."""
    link = (
        TrackedIssue.objects.select_related(
            "connection", "action_item__incident", "action_item__closed_by", "requested_by"
        )
        .filter(pk=link_id)
        .first()
    )
    if link is None:
        return
    item = link.action_item
    doing = "reopen" if not _closed(item.status) else "close"
    message = PUSH_FAILED.format(doing=doing, key=link.key, connection=link.connection, error=error)
    wanted_at = link.push_wanted_at
    TrackedIssue.objects.filter(pk=link_id, push_wanted_at=wanted_at).update(
        push_wanted_at=None, last_error=message[:2000], claimed_until=None
    )
    logger.error("tracker link %s: %s", link_id, message)
    person = item.closed_by if _closed(item.status) and item.closed_by else link.requested_by
    if person is None or wanted_at is None:
        return
    notify(
        recipients=[person],
        kind=Notification.Kind.TRACKER_SYNC_FAILED,
        text=f"{message} “{item.title}” is {item.get_status_display().lower()} in Seams.",
        url=f"{item.incident.get_absolute_url()}#actions-heading",
        incident=item.incident,
        action_item=item,
        key=f"tracker-sync-failed:{link.pk}:{wanted_at.isoformat()}",
    )


def stale_pushes(*, grace: timedelta, limit: int = 500) -> list[int]:
    """Links whose change has waited longer than `grace` and that no job holds: their job
    was lost (broker down, worker killed), and the sweep queues them again."""
    now = timezone.now()
    return list(
        TrackedIssue.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            state=TrackedIssue.State.LINKED,
            push_wanted_at__lt=now - grace,
        )
        .order_by("push_wanted_at")
        .values_list("pk", flat=True)[:limit]
    )


def link_for_webhook(connection: TrackerConnection, remote: RemoteIssue) -> TrackedIssue | None:
    """The link a webhook's issue belongs to, if Seams links it."""
    links = TrackedIssue.objects.filter(connection=connection).exclude(
        state=TrackedIssue.State.FAILED
    )
    if remote.number is not None:
        return links.filter(number=remote.number).first()
    match = Q(key=remote.key) if remote.key else Q(pk__in=[])
    if remote.external_id:
        match |= Q(external_id=remote.external_id)
    return links.filter(match).first()


def stale_links(*, grace: timedelta, limit: int = 500) -> list[int]:
    """Links asked for more than `grace` ago, still not made and held by no job: their job
    was lost (broker down, worker killed) and the sweep queues them again."""
    now = timezone.now()
    return list(
        TrackedIssue.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            state__in=(TrackedIssue.State.CREATING, TrackedIssue.State.LINKING),
            requested_at__lt=now - grace,
        )
        .order_by("requested_at")
        .values_list("pk", flat=True)[:limit]
    )


__all__ = [
    "TrackerError",
    "TrackerRefused",
    "apply_remote",
    "link_for_webhook",
    "note_item_statuses",
    "poll_connection",
    "push_failed",
    "push_issue",
    "push_status",
    "push_status_failed",
    "tracked_issue_create",
    "tracked_issue_link",
]
