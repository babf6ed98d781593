"""Delivering webhooks to a real local HTTP receiver: signatures, retries with full jitter,
the retry budget, switching off a dead endpoint, the sweep."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification
from webhooks import signing
from webhooks.delivery import deliver, retry_ceiling, retry_delay
from webhooks.events import emit
from webhooks.models import Delivery, DeliveryAttempt, Endpoint, Event
from webhooks.tasks import due_deliveries, sweep_deliveries_task

from .webhooks_helpers import admin, documented_signature, drive, endpoint, receiver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_backoff(settings):
    """Small backoff figures, so the bounds are easy to read (nothing waits for them)."""
    settings.SEAMS_WEBHOOK_RETRY_BASE_SECONDS = 2
    settings.SEAMS_WEBHOOK_RETRY_CAP_SECONDS = 10
    settings.SEAMS_WEBHOOK_MAX_ATTEMPTS = 8
    settings.SEAMS_WEBHOOK_RETRY_BUDGET_PER_HOUR = 100
    settings.SEAMS_WEBHOOK_DISABLE_AFTER_FAILURES = 20
    return settings


def published(key: str = "k1", title: str = "Gateway certificates expired", group=None):
    return emit(
        event_type="review.published",
        key=key,
        data={"review": {"id": 1, "title": title}},
        restricted_to=group.pk if group else None,
    )


def test_a_receiver_failing_four_times_gets_exactly_one_accepted_delivery(
    httpserver, django_capture_on_commit_callbacks
):
    hook, url = receiver(httpserver, 500, 503, 502, 500, 200)
    target, _ = endpoint(url)
    with django_capture_on_commit_callbacks(execute=True):
        event = published()  # the first attempt is made when the event is committed
    delivery = drive(Delivery.objects.get(event=event, endpoint=target))

    assert delivery.state == Delivery.State.DELIVERED
    assert delivery.attempts == 5
    assert len(hook.received) == 5
    assert [r["headers"]["Seams-Delivery"] for r in hook.received] == [str(delivery.uid)] * 5
    assert {e["id"] for e in hook.events()} == {str(event.id)}  # one event, to dedupe on
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [a.status_code for a in attempts] == [500, 503, 502, 500, 200]
    assert [a.ok for a in attempts] == [False] * 4 + [True]
    assert "receiver error" in attempts[0].error
    # Each retry waited a delay drawn from [0, min(cap, base·2^n)] for the n-th failure.
    for n, attempt in enumerate(attempts[:4]):
        assert 0 <= attempt.next_delay <= min(10, 2 * 2**n)
        waited = (attempts[n + 1].started_at - attempt.started_at).total_seconds()
        assert waited == pytest.approx(attempt.next_delay, abs=1e-3)
    assert attempts[4].next_delay is None
    target.refresh_from_db()
    assert target.consecutive_failures == 0
    assert target.last_success_at is not None


def test_delays_are_full_jitter_over_the_whole_range_up_to_the_cap(fast_backoff):
    rng = random.Random(7)
    for n, ceiling in [(0, 2), (1, 4), (2, 8), (3, 10), (30, 10)]:
        draws = [retry_delay(n, rng=rng) for _ in range(2000)]
        assert retry_ceiling(n) == ceiling
        assert 0 <= min(draws) < 0.05 * ceiling  # full jitter reaches down to zero …
        assert 0.95 * ceiling < max(draws) <= ceiling  # … and up to the capped ceiling


def test_the_signature_verifies_as_documented_and_a_tampered_body_does_not(httpserver):
    hook, url = receiver(httpserver, 200)
    _target, secret = endpoint(url)
    event = published()
    deliver(Delivery.objects.get(event=event).pk)

    (request,) = hook.received
    headers, body = request["headers"], request["body"]
    assert headers["User-Agent"] == "Seams-Webhooks/1"
    assert headers["Seams-Event"] == "review.published"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["id"] == str(event.id)
    header = headers["Seams-Signature"]
    assert documented_signature(secret, header, body)
    assert signing.verify(secret, body, header) > 0
    tampered = body.replace(b"Gateway", b"Gatewax")
    assert not documented_signature(secret, header, tampered)
    with pytest.raises(signing.InvalidSignature):
        signing.verify(secret, tampered, header)
    with pytest.raises(signing.InvalidSignature):
        signing.verify("whsec_another", body, header)
    # A captured request replayed after the tolerance window is refused.
    t = int(header.split(",")[0][2:])
    with pytest.raises(signing.InvalidSignature, match="tolerance"):
        signing.verify(secret, body, header, now=t + signing.TOLERANCE_SECONDS + 1)


def test_a_restricted_event_reaches_only_the_endpoint_scoped_to_its_group(httpserver):
    from .factories import GroupFactory

    security = GroupFactory(name="security")
    superuser = admin("root", is_superuser=True)
    scoped_hook, scoped_url = receiver(httpserver, 200, path="/scoped")
    open_hook, open_url = receiver(httpserver, 200, path="/open")
    other_hook, other_url = receiver(httpserver, 200, path="/other")
    scoped, _ = endpoint(scoped_url, by=superuser, scope=[security])
    endpoint(open_url, by=superuser)
    endpoint(other_url, by=superuser, scope=[GroupFactory(name="payments")])

    event = published(title="Leaked signing key", group=security)
    for delivery in Delivery.objects.filter(event=event):
        deliver(delivery.pk)

    assert [d.endpoint_id for d in Delivery.objects.filter(event=event)] == [scoped.pk]
    assert [e["data"]["review"]["title"] for e in scoped_hook.events()] == ["Leaked signing key"]
    assert open_hook.received == []
    assert other_hook.received == []


def test_emitting_twice_records_one_event_and_one_delivery_per_endpoint(httpserver):
    _, url = receiver(httpserver, 200)
    endpoint(url)
    first, again = published("same"), published("same")
    assert first.pk == again.pk
    assert Event.objects.count() == 1
    assert Delivery.objects.count() == 1


def test_over_its_retry_budget_an_endpoint_defers_its_retries_without_dropping_them(
    httpserver, fast_backoff
):
    fast_backoff.SEAMS_WEBHOOK_RETRY_BUDGET_PER_HOUR = 2
    hook, url = receiver(httpserver, 500)
    _target, _ = endpoint(url)
    deliveries = [Delivery.objects.get(event=published(f"k{n}")) for n in range(3)]
    now = timezone.now()
    for delivery in deliveries:
        assert deliver(delivery.pk, now=now).result == "retry"  # first attempts: not retries
    later = now + timedelta(seconds=30)  # every retry is due by then (cap 10 s)
    results = [deliver(d.pk, now=later).result for d in deliveries]

    assert results == ["retry", "retry", "deferred"]
    assert len(hook.received) == 5
    deferred = Delivery.objects.get(pk=deliveries[2].pk)
    assert deferred.state == Delivery.State.PENDING
    assert deferred.deferrals == 1
    assert deferred.attempts == 1  # a deferral is not an attempt
    # It comes back once the oldest retry of the window is an hour old: not sooner.
    assert deferred.next_attempt_at >= later + timedelta(hours=1)
    assert deferred.pk not in due_deliveries(now=later + timedelta(minutes=59))
    assert deferred.pk in due_deliveries(now=deferred.next_attempt_at)
    assert deliver(deferred.pk, now=deferred.next_attempt_at).result == "retry"
    assert len(hook.received) == 6


def test_a_dead_endpoint_is_switched_off_with_one_notice_to_the_admins(httpserver, fast_backoff):
    fast_backoff.SEAMS_WEBHOOK_DISABLE_AFTER_FAILURES = 5
    boss = admin("boss")
    admin("reader-only", role="reader")
    _, url = receiver(httpserver, 500)
    target, _ = endpoint(url)
    deliveries = [Delivery.objects.get(event=published(f"k{n}")) for n in range(5)]
    for delivery in deliveries:
        deliver(delivery.pk)

    target.refresh_from_db()
    assert not target.is_active
    assert "5 failed attempts in a row" in target.disabled_reason
    notices = Notification.objects.filter(kind="webhook_disabled")
    assert {n.recipient.username for n in notices} >= {boss.username}
    assert "reader-only" not in {n.recipient.username for n in notices}
    assert url in notices.first().text
    # Its deliveries wait, and are not sent while it is off.
    pending = Delivery.objects.filter(endpoint=target, state=Delivery.State.PENDING)
    assert pending.count() == 5
    far = timezone.now() + timedelta(days=1)
    assert due_deliveries(now=far) == []
    assert deliver(pending.first().pk, now=far).result == "endpoint_disabled"
    count = notices.count()
    target.refresh_from_db()
    from webhooks.delivery import disable

    assert disable(target, reason="again") is False  # told once
    assert notices.count() == count


def test_an_endpoint_failing_for_a_day_is_switched_off(httpserver, fast_backoff):
    _, url = receiver(httpserver, 500)
    target, _ = endpoint(url)
    delivery = Delivery.objects.get(event=published())
    start = timezone.now()
    deliver(delivery.pk, now=start)
    Endpoint.objects.filter(pk=target.pk).update(failing_since=start - timedelta(hours=24))
    delivery.refresh_from_db()
    deliver(delivery.pk, now=delivery.next_attempt_at)
    target.refresh_from_db()
    assert not target.is_active
    assert "24 hours" in target.disabled_reason


def test_after_the_last_attempt_a_delivery_fails_and_is_not_retried(httpserver, fast_backoff):
    fast_backoff.SEAMS_WEBHOOK_MAX_ATTEMPTS = 3
    hook, url = receiver(httpserver, 500)
    endpoint(url)
    delivery = drive(Delivery.objects.get(event=published()))
    assert delivery.state == Delivery.State.FAILED
    assert len(hook.received) == 3
    assert delivery.attempt_log.order_by("number").last().next_delay is None


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(httpserver, settings):
    import time

    settings.SEAMS_WEBHOOK_READ_TIMEOUT_SECONDS = 0.2

    def slow(request):
        time.sleep(1)
        from werkzeug import Response

        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    endpoint(httpserver.url_for("/slow"))
    delivery = Delivery.objects.get(event=published())
    assert deliver(delivery.pk).result == "retry"
    attempt = delivery.attempt_log.get()
    assert attempt.status_code is None
    assert "Timeout" in attempt.error
    assert attempt.duration_ms < 900


def test_the_sweep_sends_what_the_broker_lost_and_a_claimed_delivery_only_once(httpserver):
    hook, url = receiver(httpserver, 200)
    endpoint(url)
    event = published()  # its job was never queued: no commit callbacks ran
    delivery = Delivery.objects.get(event=event)
    assert hook.received == []
    # A job that holds the delivery (claimed, still running) keeps the sweep off it.
    Delivery.objects.filter(pk=delivery.pk).update(
        claimed_until=timezone.now() + timedelta(seconds=30)
    )
    assert due_deliveries() == []
    Delivery.objects.filter(pk=delivery.pk).update(claimed_until=None)
    assert sweep_deliveries_task.apply().get() == 0  # just due: its job may still be queued
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    assert sweep_deliveries_task.apply().get() == 1
    assert len(hook.received) == 1
    assert sweep_deliveries_task.apply().get() == 0
    assert deliver(delivery.pk).result == "not_due"  # sent already: a rerun sends nothing
    assert len(hook.received) == 1


def test_a_secret_no_key_can_read_fails_the_attempt_not_the_job_or_the_pages(
    httpserver, settings, client
):
    from cryptography.fernet import Fernet

    hook, url = receiver(httpserver, 200)
    target, _ = endpoint(url)
    delivery = Delivery.objects.get(event=published())
    settings.SEAMS_ENCRYPTION_KEYS = Fernet.generate_key().decode()  # the old key is gone
    assert deliver(delivery.pk).result == "retry"
    assert hook.received == []
    assert "rotate it" in delivery.attempt_log.get().error
    client.force_login(admin("boss"))
    assert client.get("/webhooks/").status_code == 200
    assert client.get(target.get_absolute_url()).status_code == 200
