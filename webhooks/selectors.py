"""Reading webhooks for the pages and the API."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from .models import Delivery, DeliveryAttempt, Endpoint, Event, EventType
from .permissions import may_read

RESTRICTED = "A restricted review"


def endpoints() -> QuerySet[Endpoint]:
    """Every endpoint with its scope and its deliveries counted by state (one query, plus
    one for the scopes)."""
    return (
        Endpoint.objects.prefetch_related("scope")
        .defer("secret")  # decrypted only to sign
        .annotate(
            pending_count=Count("deliveries", filter=Q(deliveries__state=Delivery.State.PENDING)),
            failed_count=Count("deliveries", filter=Q(deliveries__state=Delivery.State.FAILED)),
            delivered_count=Count(
                "deliveries", filter=Q(deliveries__state=Delivery.State.DELIVERED)
            ),
        )
        .order_by("url", "pk")
    )


def deliveries(endpoint: Endpoint | None = None) -> QuerySet[Delivery]:
    """Deliveries newest first, with their event and attempts (a fixed number of queries)."""
    rows = Delivery.objects.select_related("event", "endpoint").defer("endpoint__secret")
    rows = rows.prefetch_related(
        Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number"))
    )
    if endpoint is not None:
        rows = rows.filter(endpoint=endpoint)
    return rows.order_by("-created_at", "-pk")


def subject(event: Event, groups: set[int] | None) -> str:
    """What the event is about, in a few words, for a reader in `groups`: a restricted
    review's title only to those who may see it."""
    if not may_read(event, groups):
        return RESTRICTED
    data = event.payload.get("data", {})
    if event.type == EventType.PING:
        return data.get("message", "")
    if event.type == EventType.ACTION_ITEM_OVERDUE:
        item = data.get("action_item", {})
        return f"{item.get('title', '')} (review: {data.get('review', {}).get('title', '')})"
    if event.type in (
        EventType.STRUCTURE_RECURRED,
        EventType.STRUCTURE_RECURRED_DESPITE_REMEDIATION,
    ):
        structure = data.get("structure", {}).get("name", "")
        return f"{structure} in {data.get('review', {}).get('title', '')}"
    return data.get("review", {}).get("title", "")
