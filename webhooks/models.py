"""Outgoing webhooks: who is told (endpoints), what happened (events), and each try to tell
them (deliveries and their attempts). See docs/integrations/webhooks.md."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import URLValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from common.encryption import EncryptedTextField


class EventType(models.TextChoices):
    """The events an endpoint may subscribe to (`ping` is sent only on request)."""

    REVIEW_PUBLISHED = "review.published", "A review was published"
    REVIEW_REQUESTED = "review.requested", "A review was sent to its reviewers"
    STRUCTURE_RECURRED = "structure.recurred", "A structure recurred"
    STRUCTURE_RECURRED_DESPITE_REMEDIATION = (
        "structure.recurred_despite_remediation",
        "A structure recurred despite remediation",
    )
    STRUCTURE_RECOGNISED = (
        "structure.recognised",
        "A recompute recognised a recurring structure",
    )
    ACTION_ITEM_OVERDUE = "action_item.overdue", "An action item is overdue"
    PING = "ping", "Test ping"


SUBSCRIBABLE = [choice for choice in EventType if choice != EventType.PING]

# Only the web's own schemes: a webhook is an HTTP POST.
url_validator = URLValidator(schemes=["http", "https"])


class Endpoint(models.Model):
    """A receiver outside Seams that is sent the events it subscribed to, signed with its
    secret. `scope` says which restricted reviews it may hear about: an event about a review
    restricted to a group reaches only endpoints whose scope includes that group (events
    about unrestricted reviews reach every subscriber).

    After repeated failure the endpoint is switched off (`is_active` false, `disabled_at` and
    `disabled_reason` set) and the admins are told; its pending deliveries wait until it is
    switched on again."""

    url = models.URLField(max_length=500, validators=[url_validator])
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event types it is sent.")
    # Seams signs with the plain secret, so it is stored encrypted, not hashed.
    secret = EncryptedTextField(editable=False)
    is_active = models.BooleanField(default=True)
    scope = models.ManyToManyField(
        Group,
        blank=True,
        related_name="webhook_endpoints",
        help_text="The groups whose restricted reviews it may be told about.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    # Health: failed attempts in a row and since when it has failed without a success in
    # between; both are reset by a success.
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["url", "id"]

    def __str__(self) -> str:
        return self.description or self.url

    def get_absolute_url(self) -> str:
        return reverse("webhooks:detail", args=[self.pk])


class Event(models.Model):
    """Something that happened, as sent: its id (`id`, stable: receivers dedupe on it), its
    type and its payload. `key` names the occurrence (e.g. the review and its version), so
    emitting the same occurrence twice is one event. `restricted_to` is the group of the
    restricted review it is about (None: unrestricted), which decides who may receive it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=60, choices=EventType.choices)
    key = models.CharField(max_length=200, unique=True)
    payload = models.JSONField()
    # CASCADE, never SET_NULL: an event about a restricted review must not become
    # unrestricted (and redeliverable to anyone) when its group goes.
    restricted_to = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class Delivery(models.Model):
    """One event to one endpoint, tried until it is accepted (a 2xx answer), the attempts
    run out, or it is abandoned. `sequence` is 0 for the delivery made when the event was
    emitted and 1, 2, … for redeliveries asked for by an admin: (endpoint, event, sequence)
    is unique, so emitting twice never sends twice. `uid` is the `Seams-Delivery` header.

    `next_attempt_at` is when it is due; `claimed_until` is the lease of the job sending it
    now, taken by a conditional UPDATE so two jobs never send one delivery at once."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    sequence = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Retries put off because the endpoint had spent its retry budget (not attempts).
    deferrals = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event", "sequence"], name="webhook_delivery_once"
            )
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} to {self.endpoint_id} ({self.state})"


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery: when, how long, what came back (or the error), and
    the delay drawn before the next try (None: no further try)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    # Denormalised from the delivery so the retry budget is one indexed count.
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    next_delay = models.FloatField(null=True, blank=True, help_text="Seconds, when retried.")

    class Meta:
        ordering = ["delivery", "number"]
        indexes = [models.Index(fields=["endpoint", "started_at"], name="webhook_attempt_budget")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
