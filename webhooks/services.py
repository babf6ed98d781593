"""Managing webhook endpoints: create, change, rotate the secret, switch on, delete; send a
test ping; redeliver. The pages and the API call these, and nothing else writes endpoints.

Scope is guarded like restricting a review: a person may add to an endpoint's scope only the
groups they belong to (superusers: any), since a scoped endpoint receives those groups'
restricted reviews. Groups already in the scope that the person is not in are kept as they
are, untouched, when they change it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from people.roles import teams

from . import events, signing
from .models import SUBSCRIBABLE, Delivery, Endpoint, Event


class WebhookError(ValueError):
    """A change that is refused; the message says why, for the person asking."""


@dataclass(frozen=True)
class Created:
    """A new endpoint and its secret in plain text (shown once, never again)."""

    endpoint: Endpoint
    secret: str


def scope_choices(user: AbstractBaseUser) -> QuerySet[Group]:
    """The groups `user` may put in an endpoint's scope: their teams (superusers: all)."""
    groups = teams().order_by("name")
    return groups if user.is_superuser else groups.filter(user=user)


def _check_events(chosen: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(chosen))
    unknown = [name for name in chosen if name not in SUBSCRIBABLE]
    if unknown:
        raise WebhookError(
            f"Unknown event type {unknown[0]!r}; choose from {', '.join(SUBSCRIBABLE)}."
        )
    if not chosen:
        raise WebhookError("Choose at least one event.")
    return chosen


def _set_scope(endpoint: Endpoint, groups: Iterable[Group], by: AbstractBaseUser) -> None:
    allowed = set(scope_choices(by).values_list("pk", flat=True))
    wanted = {group.pk for group in groups}
    if refused := wanted - allowed:
        names = ", ".join(
            sorted(Group.objects.filter(pk__in=refused).values_list("name", flat=True))
        )
        raise WebhookError(
            f"You may scope an endpoint only to teams you belong to; not to {names}."
        )
    kept = set(endpoint.scope.exclude(pk__in=allowed).values_list("pk", flat=True))
    endpoint.scope.set(kept | wanted)


@transaction.atomic
def endpoint_create(
    *,
    url: str,
    description: str = "",
    event_types: Iterable[str],
    scope: Iterable[Group] = (),
    is_active: bool = True,
    by: AbstractBaseUser,
) -> Created:
    """A new endpoint with a fresh secret; returns both (the secret is not shown again)."""
    secret = signing.new_secret()
    endpoint = Endpoint(
        url=url,
        description=description,
        events=_check_events(event_types),
        secret=secret,
        is_active=is_active,
        created_by=by,
    )
    endpoint.full_clean(exclude=["secret", "events"])
    endpoint.save()
    _set_scope(endpoint, scope, by)
    return Created(endpoint, secret)


@transaction.atomic
def endpoint_update(
    *,
    endpoint: Endpoint,
    by: AbstractBaseUser,
    url: str | None = None,
    description: str | None = None,
    event_types: Iterable[str] | None = None,
    scope: Iterable[Group] | None = None,
) -> Endpoint:
    """Change what is given (None: leave it). Switching on and off has its own functions."""
    if url is not None:
        endpoint.url = url
    if description is not None:
        endpoint.description = description
    if event_types is not None:
        endpoint.events = _check_events(event_types)
    endpoint.full_clean(exclude=["secret", "events"])
    endpoint.save(update_fields=["url", "description", "events", "updated_at"])
    if scope is not None:
        _set_scope(endpoint, scope, by)
    return endpoint


def endpoint_rotate_secret(*, endpoint: Endpoint) -> str:
    """Give the endpoint a new secret and return it (shown once). Deliveries signed from now
    on use it; the receiver should accept both for the few minutes it takes to switch."""
    secret = signing.new_secret()
    endpoint.secret = secret
    endpoint.secret_rotated_at = timezone.now()
    endpoint.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
    return secret


@transaction.atomic
def endpoint_enable(*, endpoint: Endpoint) -> Endpoint:
    """Switch the endpoint on (again): its failure record is cleared and the deliveries that
    waited for it are sent now."""
    now = timezone.now()
    Endpoint.objects.filter(pk=endpoint.pk).update(
        is_active=True,
        disabled_at=None,
        disabled_reason="",
        consecutive_failures=0,
        failing_since=None,
    )
    waiting = list(
        Delivery.objects.filter(endpoint=endpoint, state=Delivery.State.PENDING).values_list(
            "pk", flat=True
        )
    )
    Delivery.objects.filter(pk__in=waiting).update(next_attempt_at=now, claimed_until=None)
    from .tasks import enqueue_deliveries

    transaction.on_commit(lambda: enqueue_deliveries(waiting))
    endpoint.refresh_from_db()
    return endpoint


def endpoint_disable(*, endpoint: Endpoint) -> Endpoint:
    """Switch the endpoint off by hand (no notice: the admin knows); deliveries wait."""
    Endpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason="switched off by an admin"
    )
    endpoint.refresh_from_db()
    return endpoint


def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Delete the endpoint with its deliveries and their log."""
    endpoint.delete()


def send_ping(*, endpoint: Endpoint, by: AbstractBaseUser) -> Event:
    """Send a `ping` event to this endpoint only; refused while it is switched off."""
    if not endpoint.is_active:
        raise WebhookError("This endpoint is switched off; switch it on to send it a ping.")
    return events.emit_ping(endpoint=endpoint, by=by)


@transaction.atomic
def redeliver(*, delivery: Delivery, by: AbstractBaseUser) -> Delivery:
    """Send the event of `delivery` to its endpoint again, as a new delivery with the same
    event (same event id and body; a new `Seams-Delivery` id and a fresh set of attempts)."""
    endpoint = Endpoint.objects.select_for_update().defer("secret").get(pk=delivery.endpoint_id)
    if not endpoint.is_active:
        raise WebhookError("This endpoint is switched off; switch it on to redeliver.")
    group = delivery.event.restricted_to_id
    if group is not None and not endpoint.scope.filter(pk=group).exists():
        raise WebhookError(
            "This event is about a restricted review outside the endpoint's scope now; it "
            "cannot be sent again."
        )
    last = Delivery.objects.filter(endpoint=endpoint, event=delivery.event).aggregate(
        Max("sequence")
    )["sequence__max"]
    again = Delivery.objects.create(
        endpoint=endpoint,
        event=delivery.event,
        sequence=(last or 0) + 1,
        next_attempt_at=timezone.now(),
        requested_by=by,
    )
    from .tasks import enqueue_deliveries

    transaction.on_commit(lambda: enqueue_deliveries([again.pk]))
    return again
