"""What Seams tells webhook endpoints: building each event's payload and emitting it.

Emitting is idempotent twice over: an event's `key` names the occurrence (a review and its
version, a structure and the incident that recurred, an action item and its due date), so
the same occurrence is one event however often it is emitted; and each endpoint gets at most
one delivery of it. The event's id is the receivers' key to dedupe on.

An event about a restricted review is recorded with its group and delivered only to
endpoints whose scope includes that group: the title is in the payload.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import date

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from actions.selectors import OPEN_STATUSES, REVIEW_TEXT
from incidents.models import ActionItem, Incident, RecurrenceMembership, RecurringStructure

from .models import Delivery, Endpoint, Event, EventType

logger = logging.getLogger(__name__)

BATCH = 500
STRUCTURE_EVENTS = {
    EventType.STRUCTURE_RECURRED,
    EventType.STRUCTURE_RECURRED_DESPITE_REMEDIATION,
}


def absolute(path: str) -> str:
    """A Seams page's address as a receiver can follow it (SEAMS_BASE_URL + path)."""
    return settings.SEAMS_BASE_URL.rstrip("/") + path


def _username(user: AbstractBaseUser | None) -> str | None:
    return user.get_username() if user is not None else None


def review_data(incident: Incident) -> dict:
    """The review as payloads show it: what a receiver needs to link to it and sort it."""
    return {
        "id": incident.pk,
        "title": incident.title,
        "url": absolute(incident.get_absolute_url()),
        "status": incident.status,
        "severity": incident.severity,
        "organisation": incident.organisation,
        "restricted": incident.restricted_to_id is not None,
        "version": incident.version,
    }


def subscribers(event_type: str, restricted_to: int | None) -> list[Endpoint]:
    """The active endpoints subscribed to `event_type` that may receive an event about a
    review restricted to group `restricted_to` (None: unrestricted, every subscriber)."""
    endpoints = Endpoint.objects.filter(is_active=True).defer("secret")
    if restricted_to is not None:
        endpoints = endpoints.filter(scope=restricted_to)
    # The event list is JSON; SQLite cannot filter inside it, and endpoints are few.
    return [endpoint for endpoint in endpoints.order_by("pk") if event_type in endpoint.events]


def emit(
    *,
    event_type: str,
    key: str,
    data: dict,
    restricted_to: int | None = None,
    endpoints: list[Endpoint] | None = None,
) -> Event | None:
    """Record the event named `key` (once) and a delivery of it to each endpoint that may
    receive it (or to `endpoints`, for a test ping); queue them after commit. Returns the
    event, or None when nobody subscribes (nothing is recorded then). An event already
    recorded is returned as it is: its deliveries were made when it was first emitted."""
    targets = subscribers(event_type, restricted_to) if endpoints is None else endpoints
    if not targets:
        return None
    if existing := Event.objects.filter(key=key).first():
        return existing
    event_id = uuid.uuid4()
    now = timezone.now()
    payload = {
        "id": str(event_id),
        "type": event_type,
        "created_at": now.isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    try:
        # A savepoint: a concurrent emitter that won the race leaves this one a no-op, and
        # the caller's transaction (a review being published) is not spoiled.
        with transaction.atomic():
            event = Event.objects.create(
                id=event_id,
                type=event_type,
                key=key,
                payload=payload,
                restricted_to_id=restricted_to,
                created_at=now,
            )
            deliveries = Delivery.objects.bulk_create(
                Delivery(endpoint=endpoint, event=event, next_attempt_at=now)
                for endpoint in targets
            )
    except IntegrityError:
        return Event.objects.filter(key=key).first()
    from .tasks import enqueue_deliveries

    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: enqueue_deliveries(ids))
    return event


def safely(what: str, emitter, *args, **kwargs) -> None:
    """Run an emitter from a signal sent inside someone else's transaction: a failure here
    is logged and never undoes the review write that caused it."""
    try:
        with transaction.atomic():
            emitter(*args, **kwargs)
    except Exception:
        logger.exception("webhooks: could not emit %s", what)


# --- review.published, review.requested ---------------------------------------------------


def emit_review_published(*, incident: Incident, by: AbstractBaseUser | None) -> Event | None:
    """`review.published`: once per published version of a review."""
    return emit(
        event_type=EventType.REVIEW_PUBLISHED,
        key=f"review.published:{incident.pk}:{incident.version}",
        data={"review": review_data(incident), "published_by": _username(by)},
        restricted_to=incident.restricted_to_id,
    )


def emit_review_requested(
    *, incident: Incident, by: AbstractBaseUser | None, reviewers: list[AbstractBaseUser]
) -> Event | None:
    """`review.requested`: once per request (a version of the review sent for review)."""
    return emit(
        event_type=EventType.REVIEW_REQUESTED,
        key=f"review.requested:{incident.pk}:{incident.version}",
        data={
            "review": review_data(incident),
            "requested_by": _username(by),
            "reviewers": sorted(r.get_username() for r in reviewers),
        },
        restricted_to=incident.restricted_to_id,
    )


# --- structure.recurred, structure.recurred_despite_remediation ---------------------------


def _signature_digest(signature: str) -> str:
    # Structures are named by their signature (stable across a full recompute, unlike an
    # id); hashed because a signature may be longer than a key.
    return hashlib.sha256(signature.encode()).hexdigest()[:24]


def _structure_key(event_type: str, membership: RecurrenceMembership) -> str:
    return (
        f"{event_type}:{_signature_digest(membership.structure.signature)}:{membership.incident_id}"
    )


def structure_data(membership: RecurrenceMembership, *, despite: bool) -> dict:
    """The payload of a recurrence: the structure, the review that recurred and the earlier
    review it recurred after — the latter only when it is no more restricted than the former
    (a receiver allowed to see this review may not be allowed to see that one)."""
    structure = membership.structure
    incident = membership.incident
    previous = membership.previous
    shareable = previous is not None and previous.restricted_to_id in (
        None,
        incident.restricted_to_id,
    )
    data = {
        "structure": structure_summary(structure),
        "review": review_data(incident),
        "previous_review": review_data(previous) if shareable else None,
    }
    if despite:
        data["remediation_kinds"] = list(membership.remediation_kinds or [])
    return data


def emit_recurrences(memberships) -> int:
    """Emit `structure.recurred` for each membership that recurred, and
    `structure.recurred_despite_remediation` for those that recurred after remediation, in
    batches. Returns how many events were newly recorded."""
    listening = {
        kind
        for endpoint in Endpoint.objects.filter(is_active=True).defer("secret")
        for kind in endpoint.events
        if kind in STRUCTURE_EVENTS
    }
    if not listening:
        return 0  # nobody listens: spare the work
    count = 0
    batch: list[RecurrenceMembership] = []
    for membership in memberships:
        if membership.recurred:
            batch.append(membership)
        if len(batch) == BATCH:
            count += _emit_recurrence_batch(batch)
            batch = []
    return count + (_emit_recurrence_batch(batch) if batch else 0)


def _emit_recurrence_batch(memberships: list[RecurrenceMembership]) -> int:
    wanted = []
    for membership in memberships:
        wanted.append((EventType.STRUCTURE_RECURRED, membership, False))
        if membership.after_remediation:
            wanted.append((EventType.STRUCTURE_RECURRED_DESPITE_REMEDIATION, membership, True))
    keys = {_structure_key(kind, m) for kind, m, _ in wanted}
    done = set(Event.objects.filter(key__in=keys).values_list("key", flat=True))
    count = 0
    for kind, membership, despite in wanted:
        key = _structure_key(kind, membership)
        if key in done:
            continue
        event = emit(
            event_type=kind,
            key=key,
            data=structure_data(membership, despite=despite),
            restricted_to=membership.incident.restricted_to_id,
        )
        count += event is not None
    return count


def _memberships():
    return (
        RecurrenceMembership.objects.filter(recurred=True)
        .select_related("structure", "structure__pattern", "incident", "previous")
        # The payload names the reviews; their long text is not needed.
        .defer(
            *(f"incident__{name}" for name in REVIEW_TEXT),
            *(f"previous__{name}" for name in REVIEW_TEXT),
        )
    )


def emit_recurrences_of(incident: Incident) -> int:
    """The recurrence events of one just-analysed incident."""
    return emit_recurrences(_memberships().filter(incident=incident))


def emit_recent_recurrences(*, days: int = 2) -> int:
    """Catch up the recurrence events of reviews saved and analysed in the last `days` days,
    whose signal was lost (e.g. the analysis committed but emitting failed). Recurrences a
    full recompute finds among older reviews (after a catalogue change) are not recurrences
    that just happened: they are announced once per structure as `structure.recognised`."""
    since = timezone.now() - timezone.timedelta(days=days)
    recent = _memberships().filter(
        incident__analysed_at__gte=since, incident__updated_at__gte=since
    )
    return emit_recurrences(recent.order_by("pk").iterator(chunk_size=BATCH))


# --- structure.recognised -----------------------------------------------------------------


def structure_summary(structure: RecurringStructure) -> dict:
    """The structure as payloads name it."""
    return {
        "id": structure.pk,
        "name": structure.name or structure.pattern.name,
        "kind": structure.kind,
        "pattern": structure.pattern.slug,
        "url": absolute(reverse("incidents:structure", args=[structure.pk])),
    }


def emit_recognised(signatures: list[str]) -> int:
    """Emit `structure.recognised` once for each structure a full recompute found anew,
    naming and counting only its unrestricted reviews: an event goes to every subscriber,
    and a count must not give a restricted review away. A structure with fewer than two
    unrestricted reviews is not announced. Returns how many events were newly recorded."""
    if not subscribers(EventType.STRUCTURE_RECOGNISED, None):
        return 0  # nobody listens: spare the work
    count = 0
    for structure in RecurringStructure.objects.filter(signature__in=signatures).select_related(
        "pattern"
    ):
        reviews = list(
            structure.incidents.filter(restricted_to__isnull=True)
            .order_by(F("started_at").asc(nulls_last=True), "pk")
            .defer(*REVIEW_TEXT)
        )
        if len(reviews) < 2:
            continue
        event = emit(
            event_type=EventType.STRUCTURE_RECOGNISED,
            key=f"{EventType.STRUCTURE_RECOGNISED}:{_signature_digest(structure.signature)}",
            data={
                "structure": structure_summary(structure),
                "reviews": len(reviews),
                "earliest_review": review_data(reviews[0]),
                "latest_review": review_data(reviews[-1]),
            },
        )
        count += event is not None
    return count


# --- action_item.overdue ------------------------------------------------------------------


def action_item_data(item: ActionItem) -> dict:
    """The payload of an overdue action item: the item, its owner's name and its review."""
    if item.owner_user_id:
        owner = item.owner_user.get_username()
    elif item.owner_team_id:
        owner = item.owner_team.name
    else:
        owner = item.owner or None
    return {
        "action_item": {
            "id": item.pk,
            "title": item.title,
            "due": item.due.isoformat(),
            "status": item.status,
            "kind": item.kind,
            "owner": owner,
            "url": absolute(f"{item.incident.get_absolute_url()}#actions-heading"),
        },
        "review": review_data(item.incident),
    }


def overdue_key(item: ActionItem) -> str:
    """One announcement per item and due date: a new due date that passes is news again."""
    return f"action_item.overdue:{item.pk}:{item.due.isoformat()}"


def emit_overdue_action_items(*, today: date | None = None) -> int:
    """Emit `action_item.overdue` once for each open item whose due date has passed (by item
    and due date). Returns how many events were newly recorded."""
    if not any(
        EventType.ACTION_ITEM_OVERDUE in e.events
        for e in Endpoint.objects.filter(is_active=True).defer("secret")
    ):
        return 0  # nobody listens: spare the scan
    today = today or timezone.localdate()
    items = list(
        ActionItem.objects.filter(status__in=OPEN_STATUSES, due__lt=today)
        .select_related("incident", "owner_user", "owner_team")
        .defer(*(f"incident__{name}" for name in REVIEW_TEXT))
        .order_by("pk")
    )
    count = 0
    for start in range(0, len(items), BATCH):
        batch = items[start : start + BATCH]
        done = set(
            Event.objects.filter(key__in=[overdue_key(item) for item in batch]).values_list(
                "key", flat=True
            )
        )
        for item in batch:
            if overdue_key(item) in done:
                continue
            event = emit(
                event_type=EventType.ACTION_ITEM_OVERDUE,
                key=overdue_key(item),
                data=action_item_data(item),
                restricted_to=item.incident.restricted_to_id,
            )
            count += event is not None
    return count


# --- ping ---------------------------------------------------------------------------------


def emit_ping(*, endpoint: Endpoint, by: AbstractBaseUser | None) -> Event:
    """A test event for one endpoint only (sent even if it does not subscribe to `ping`)."""
    return emit(
        event_type=EventType.PING,
        key=f"ping:{uuid.uuid4()}",
        data={
            "message": "A test ping from Seams.",
            "endpoint": endpoint.pk,
            "sent_by": _username(by),
        },
        endpoints=[endpoint],
    )
