"""A real Celery worker, through the real Redis and PostgreSQL, delivers a signed webhook to
a local receiver, retrying once after the receiver fails."""

from __future__ import annotations

import pytest

from tests.webhooks_helpers import admin, documented_signature, endpoint, receiver
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.services import send_ping

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_worker_delivers_a_signed_webhook_and_retries_a_failure(
    httpserver, start_worker, flush_queue, monkeypatch
):
    # Read by the worker: a retry within two seconds, queued by the worker itself.
    monkeypatch.setenv("SEAMS_WEBHOOK_RETRY_BASE_SECONDS", "1")
    monkeypatch.setenv("SEAMS_WEBHOOK_RETRY_CAP_SECONDS", "2")
    worker = start_worker()
    hook, url = receiver(httpserver, 503, 200)
    target, secret = endpoint(url, by=admin("root", is_superuser=True))

    event = send_ping(endpoint=target, by=None)  # queued on commit, to Redis
    delivery = Delivery.objects.get(event=event)

    def delivered() -> bool:
        delivery.refresh_from_db()
        return delivery.state == Delivery.State.DELIVERED

    wait_for(delivered, timeout=60, what="the worker to deliver the webhook")
    assert "webhooks.deliver" in worker.output()
    assert len(hook.received) == 2
    for request in hook.received:
        headers = request["headers"]
        assert documented_signature(secret, headers["Seams-Signature"], request["body"])
        assert headers["Seams-Delivery"] == str(delivery.uid)
        assert headers["Seams-Event"] == "ping"
    assert [e["id"] for e in hook.events()] == [str(event.id)] * 2
    failed, accepted = DeliveryAttempt.objects.filter(delivery=delivery).order_by("number")
    assert failed.status_code == 503
    assert 0 <= failed.next_delay <= 1
    assert accepted.status_code == 200
