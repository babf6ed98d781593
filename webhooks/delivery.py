"""Sending one delivery: claim it, sign it, POST it, record the attempt, and decide what next.

A failed attempt is retried after a delay drawn with exponential backoff and *full* jitter,
`uniform(0, min(cap, base · 2ⁿ))` for the n-th failed attempt (n from 0), up to a maximum
number of attempts. Retries also spend a per-endpoint budget (so many an hour): over it, a
retry is deferred until the budget has room again — never dropped — so one dead receiver
cannot fill the queue with retries while live ones wait. An endpoint that keeps failing is
switched off and the admins are told (see `record_failure`).
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from common.encryption import SecretUnreadable, require
from common.retry import full_jitter
from notifications.models import Notification
from notifications.services import notify
from people.roles import active_admins

from . import signing
from .models import Delivery, DeliveryAttempt, Endpoint

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
# The job's hard time limit plus a margin: a delivery claimed longer ago than this belongs to
# a job that died, and may be claimed again.
LEASE = timedelta(seconds=60)
ERROR_CHARS = 500
NOTICE_KIND = Notification.Kind.WEBHOOK_DISABLED


@dataclass(frozen=True)
class Outcome:
    """What one call of `deliver` did: `result` is one of delivered, retry, failed, deferred,
    not_due (nothing to do: done, not yet due or being sent by another job) or
    endpoint_disabled; `delay` is the seconds until the next try, when there is one."""

    result: str
    delay: float | None = None


def retry_delay(failed_attempt: int, *, rng: random.Random | None = None) -> float:
    """The delay before retrying after the `failed_attempt`-th failed attempt (0 for the
    first): drawn uniformly from [0, min(cap, base · 2ⁿ)] (full jitter)."""
    return full_jitter(
        failed_attempt,
        base=settings.SEAMS_WEBHOOK_RETRY_BASE_SECONDS,
        cap=settings.SEAMS_WEBHOOK_RETRY_CAP_SECONDS,
        rng=rng,
    )


def retry_ceiling(failed_attempt: int) -> float:
    """The upper bound of `retry_delay` for that attempt."""
    base = settings.SEAMS_WEBHOOK_RETRY_BASE_SECONDS
    return min(settings.SEAMS_WEBHOOK_RETRY_CAP_SECONDS, base * 2 ** min(failed_attempt, 62))


def _claim(delivery_id: int, now: datetime) -> bool:
    """Take the delivery for this job if it is pending, due and nobody else holds it: a
    conditional UPDATE, so two jobs (a retried one and the sweep's) never send it twice."""
    return bool(
        Delivery.objects.filter(
            pk=delivery_id, state=Delivery.State.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .update(claimed_until=now + LEASE)
    )


def retries_in_last_hour(endpoint: Endpoint, now: datetime) -> list[datetime]:
    """When the endpoint's retries (attempts after a delivery's first) of the past hour
    began, oldest first: what its budget has spent."""
    return list(
        DeliveryAttempt.objects.filter(
            endpoint=endpoint, number__gt=1, started_at__gt=now - HOUR, started_at__lte=now
        )
        .order_by("started_at")
        .values_list("started_at", flat=True)
    )


def _post(endpoint: Endpoint, delivery: Delivery) -> tuple[int | None, str]:
    """POST the signed event; return the status code (None: no answer) and an error text."""
    body = json.dumps(delivery.event.payload, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        secret = require(endpoint.secret)
    except SecretUnreadable:
        return None, "The signing secret cannot be read (encryption key gone); rotate it."
    headers = {
        "Content-Type": "application/json",
        "User-Agent": signing.USER_AGENT,
        signing.EVENT_HEADER: delivery.event.type,
        signing.DELIVERY_HEADER: str(delivery.uid),
        signing.SIGNATURE_HEADER: signing.signature_header(secret, body),
    }
    try:
        # No redirects: a receiver that moved must be re-registered, and a redirect must not
        # carry a signed body somewhere nobody chose. stream=True: the answer's body is not
        # needed beyond its first bytes, however large it is.
        with requests.post(
            endpoint.url,
            data=body,
            headers=headers,
            timeout=(
                settings.SEAMS_WEBHOOK_CONNECT_TIMEOUT_SECONDS,
                settings.SEAMS_WEBHOOK_READ_TIMEOUT_SECONDS,
            ),
            allow_redirects=False,
            stream=True,
        ) as response:
            if 200 <= response.status_code < 300:
                return response.status_code, ""
            start = response.raw.read(200, decode_content=True) or b""
            text = start.decode("utf-8", "replace").strip()
            return response.status_code, f"HTTP {response.status_code}" + (
                f": {text}" if text else ""
            )
    except requests.RequestException as error:
        return None, f"{type(error).__name__}: {error}"


def deliver(delivery_id: int, *, now: datetime | None = None) -> Outcome:
    """Send the delivery once if it is due (see the module's docstring for what follows a
    failure). Safe to call twice or concurrently: only the caller that claims it sends."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return Outcome("not_due")
    try:
        # The secret is read only when signing, so an unreadable one fails this attempt
        # (recorded, retried) rather than the job.
        delivery = (
            Delivery.objects.select_related("endpoint", "event")
            .defer("endpoint__secret")
            .get(pk=delivery_id)
        )
    except Delivery.DoesNotExist:
        return Outcome("not_due")  # deleted with its endpoint meanwhile
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        # It waits, unclaimed, until the endpoint is switched on again.
        Delivery.objects.filter(pk=delivery_id).update(claimed_until=None)
        return Outcome("endpoint_disabled")
    group = delivery.event.restricted_to_id
    if group is not None and not endpoint.scope.filter(pk=group).exists():
        # The endpoint's scope was narrowed since: it may no longer hear of this review.
        Delivery.objects.filter(pk=delivery_id).update(
            state=Delivery.State.FAILED, claimed_until=None, next_attempt_at=None
        )
        return Outcome("failed")
    if delivery.attempts > 0:
        spent = retries_in_last_hour(endpoint, now)
        if len(spent) >= settings.SEAMS_WEBHOOK_RETRY_BUDGET_PER_HOUR:
            return _defer(delivery, spent, now)

    started = time.monotonic()
    status, error = _post(endpoint, delivery)
    duration_ms = int((time.monotonic() - started) * 1000)
    ok = status is not None and 200 <= status < 300
    number = delivery.attempts + 1
    with transaction.atomic():
        if ok:
            record_success(endpoint, now)
            outcome = Outcome("delivered")
            Delivery.objects.filter(pk=delivery_id).update(
                state=Delivery.State.DELIVERED,
                attempts=number,
                last_status_code=status,
                delivered_at=now,
                next_attempt_at=None,
                claimed_until=None,
            )
        else:
            if number >= settings.SEAMS_WEBHOOK_MAX_ATTEMPTS:
                outcome = Outcome("failed")
                changes = {"state": Delivery.State.FAILED, "next_attempt_at": None}
            else:
                delay = retry_delay(number - 1)
                outcome = Outcome("retry", delay)
                changes = {"next_attempt_at": now + timedelta(seconds=delay)}
            Delivery.objects.filter(pk=delivery_id).update(
                attempts=number, last_status_code=status, claimed_until=None, **changes
            )
            record_failure(endpoint, now)
        DeliveryAttempt.objects.create(
            delivery=delivery,
            endpoint=endpoint,
            number=number,
            started_at=now,
            duration_ms=duration_ms,
            status_code=status,
            ok=ok,
            error=error[:ERROR_CHARS],
            next_delay=outcome.delay,
        )
    # Ids and codes only: the payload may name a restricted review.
    logger.info(
        "webhook delivery %s to endpoint %s: attempt %d, %s (%s)",
        delivery.uid, endpoint.pk, number, outcome.result, status,
    )  # fmt: skip
    if outcome.result == "retry":
        from .tasks import enqueue_deliveries

        # A moment late rather than early: a job that arrived before the delivery is due
        # would find nothing to do, and leave it to the sweep.
        countdown = outcome.delay + 0.5
        transaction.on_commit(lambda: enqueue_deliveries([delivery_id], countdown=countdown))
    return outcome


def _defer(delivery: Delivery, spent: list[datetime], now: datetime) -> Outcome:
    """Put a retry off until the endpoint's hourly budget has room (when the oldest retry it
    counts leaves the window), with a little jitter so deferred retries do not all return at
    once. The delivery keeps its place: it is deferred, never dropped."""
    over = len(spent) - settings.SEAMS_WEBHOOK_RETRY_BUDGET_PER_HOUR
    frees_at = spent[over] + HOUR
    delay = max((frees_at - now).total_seconds(), 0) + random.uniform(
        0, settings.SEAMS_WEBHOOK_RETRY_BASE_SECONDS
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=now + timedelta(seconds=delay),
        deferrals=F("deferrals") + 1,
        claimed_until=None,
    )
    logger.info(
        "webhook delivery %s to endpoint %s deferred %.0f s: retry budget spent",
        delivery.uid, delivery.endpoint_id, delay,
    )  # fmt: skip
    return Outcome("deferred", delay)


def record_success(endpoint: Endpoint, now: datetime) -> None:
    """The endpoint answered: its failure count and failing period end."""
    Endpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=0, failing_since=None, last_success_at=now
    )


def record_failure(endpoint: Endpoint, now: datetime) -> None:
    """Count a failed attempt; switch the endpoint off (and tell the admins, once) when it
    has failed SEAMS_WEBHOOK_DISABLE_AFTER_FAILURES times in a row or has failed without a
    success for SEAMS_WEBHOOK_DISABLE_AFTER_HOURS hours."""
    Endpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    fresh = Endpoint.objects.defer("secret").get(pk=endpoint.pk)
    hours = settings.SEAMS_WEBHOOK_DISABLE_AFTER_HOURS
    if fresh.consecutive_failures >= settings.SEAMS_WEBHOOK_DISABLE_AFTER_FAILURES:
        reason = f"{fresh.consecutive_failures} failed attempts in a row"
    elif fresh.failing_since and now - fresh.failing_since >= timedelta(hours=hours):
        reason = f"failing for more than {hours} hours"
    else:
        return
    disable(fresh, reason=reason, now=now)


def disable(endpoint: Endpoint, *, reason: str, now: datetime | None = None) -> bool:
    """Switch a failing endpoint off and tell the admins; False if it was already off (so
    the notice is given once, however many jobs fail at the same moment)."""
    now = now or timezone.now()
    switched = Endpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_at=now, disabled_reason=reason[:300]
    )
    if not switched:
        return False
    staff = get_user_model().objects.filter(is_staff=True, is_active=True)
    recipients = {person.pk: person for person in [*active_admins(), *staff]}
    notify(
        recipients=recipients.values(),
        kind=NOTICE_KIND,
        text=(
            f"Webhook endpoint {endpoint.url} was switched off: {reason}. Its deliveries wait "
            "until an admin switches it on again."
        ),
        url=endpoint.get_absolute_url(),
        key=f"webhook-disabled:{endpoint.pk}:{now.isoformat()}",
    )
    logger.warning("webhook endpoint %s switched off: %s", endpoint.pk, reason)
    return True
