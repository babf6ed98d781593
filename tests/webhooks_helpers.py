"""Builders shared by the webhook tests (tests/test_webhooks_*.py): endpoints, a receiver
speaking HTTP (pytest-httpserver) that records what it was sent, and driving deliveries
through their retries without waiting for the backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field

from werkzeug import Request, Response

from webhooks.delivery import deliver
from webhooks.models import Delivery
from webhooks.services import endpoint_create
from webhooks.tasks import due_deliveries

from .factories import UserFactory

ALL_EVENTS = [
    "review.published",
    "review.requested",
    "structure.recurred",
    "structure.recurred_despite_remediation",
    "action_item.overdue",
]


def admin(name: str = "admin", **kwargs):
    """A person with the Admin role (or the role given)."""
    kwargs.setdefault("role", "admin")
    return UserFactory(username=name, email=f"{name}@example.com", **kwargs)


def endpoint(url: str, *, by=None, events=ALL_EVENTS, scope=(), **kwargs):
    """An endpoint and its plain secret."""
    created = endpoint_create(
        url=url, event_types=events, scope=scope, by=by or admin("creator", is_superuser=True),
        **kwargs,
    )  # fmt: skip
    return created.endpoint, created.secret


@dataclass
class Receiver:
    """A webhook receiver: answers with the given statuses in turn (the last one forever),
    and keeps each request's headers and raw body."""

    statuses: list[int]
    received: list[dict] = field(default_factory=list)

    def __call__(self, request: Request) -> Response:
        self.received.append({"headers": dict(request.headers), "body": request.get_data()})
        status = self.statuses[min(len(self.received) - 1, len(self.statuses) - 1)]
        return Response("ok" if status < 300 else "receiver error", status=status)

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.received]


def receiver(httpserver, *statuses: int, path: str = "/hook") -> tuple[Receiver, str]:
    """A receiver served by pytest-httpserver at `path`; returns it and its URL."""
    handler = Receiver(list(statuses) or [200])
    httpserver.expect_request(path, method="POST").respond_with_handler(handler)
    return handler, httpserver.url_for(path)


def documented_signature(secret: str, header: str, body: bytes) -> bool:
    """The check docs/integrations/webhooks.md tells receivers to make, written here from
    the documentation rather than with Seams' own code."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(
        secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


def drive(delivery: Delivery, *, limit: int = 50) -> Delivery:
    """Run the sweep and the job at each due time of the delivery until it is settled,
    without waiting: each round moves the clock to when the delivery is next due."""
    for _ in range(limit):
        delivery.refresh_from_db()
        if delivery.state != Delivery.State.PENDING:
            return delivery
        when = delivery.next_attempt_at
        assert delivery.pk in due_deliveries(now=when)
        deliver(delivery.pk, now=when)
    raise AssertionError("the delivery did not settle")
