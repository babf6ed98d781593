"""The webhooks in the OpenAPI schema (`SPECTACULAR_SETTINGS["WEBHOOKS"]`): one entry per
event type, with its body and the headers every delivery carries."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, extend_schema

from . import signing
from .models import EventType
from .payloads import PAYLOADS

HEADERS = (
    f"Every delivery is a POST with `Content-Type: application/json` and these headers: "
    f'`{signing.SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw '
    f"body>\" under the endpoint's secret>`, `{signing.EVENT_HEADER}` (the event type), "
    f"`{signing.DELIVERY_HEADER}` (this delivery's id; a redelivery has a new one, the "
    f"event's `id` stays the same) and `User-Agent: {signing.USER_AGENT}`. Verify the "
    f"signature on the raw body and refuse timestamps more than "
    f"{signing.TOLERANCE_SECONDS} seconds from your clock; answer 2xx within "
    f"a few seconds (anything else is retried). See docs/integrations/webhooks.md."
)

DESCRIPTIONS = {
    EventType.REVIEW_PUBLISHED: "A review was published (once per published version).",
    EventType.REVIEW_REQUESTED: "A review was sent to its named reviewers.",
    EventType.STRUCTURE_RECURRED: (
        "A recurring structure recurred: an incident showed it after an earlier review of "
        "it existed (docs/recurrence.md)."
    ),
    EventType.STRUCTURE_RECURRED_DESPITE_REMEDIATION: (
        "A structure recurred although the earlier review's action items aimed at it were "
        "all done: the remediation fixed a part, not the structure."
    ),
    EventType.STRUCTURE_RECOGNISED: (
        "A full recompute (nightly, or after a catalogue change or an import) recognised a "
        "recurring structure among past reviews that Seams had not seen before: once per "
        "structure, naming only unrestricted reviews. Its reviews are not new incidents, "
        "which is why this is not `structure.recurred`."
    ),
    EventType.ACTION_ITEM_OVERDUE: (
        "An open action item passed its due date (once per item and due date)."
    ),
    EventType.PING: "A test event, sent when an admin asks for one.",
}


def _webhook(event_type: EventType) -> OpenApiWebhook:
    return OpenApiWebhook(
        name=str(event_type),
        decorator=extend_schema(
            summary=event_type.label,
            description=f"{DESCRIPTIONS[event_type]}\n\n{HEADERS}",
            # By media type: the API's parser whitelist does not apply to what Seams sends.
            request={"application/json": PAYLOADS[event_type]},
            responses={
                200: OpenApiResponse(description="Accepted (any 2xx answer will do)."),
            },
        ),
    )


REVIEW_PUBLISHED = _webhook(EventType.REVIEW_PUBLISHED)
REVIEW_REQUESTED = _webhook(EventType.REVIEW_REQUESTED)
STRUCTURE_RECURRED = _webhook(EventType.STRUCTURE_RECURRED)
STRUCTURE_RECURRED_DESPITE_REMEDIATION = _webhook(EventType.STRUCTURE_RECURRED_DESPITE_REMEDIATION)
STRUCTURE_RECOGNISED = _webhook(EventType.STRUCTURE_RECOGNISED)
ACTION_ITEM_OVERDUE = _webhook(EventType.ACTION_ITEM_OVERDUE)
PING = _webhook(EventType.PING)


def webhooks_as_extension(result: dict, generator, request, public) -> dict:
    """Move the events to `x-webhooks` in an OpenAPI 3.0 schema.

    `webhooks` is a top-level key only from OpenAPI 3.1; in the 3.0 schema Seams serves (the
    one its contract tests and bots are built against) a top-level key must start with `x-`.
    `x-webhooks` is where documentation tools that read 3.0 (Redoc among them) look for them.
    """
    if "webhooks" in result and str(result.get("openapi", "")).startswith("3.0"):
        result["x-webhooks"] = result.pop("webhooks")
    return result
