"""Recording a chat question and answering it exactly once, whatever the platform.

A platform's view records the request (`submit`) and acknowledges at once; a job
(`chat.tasks`) answers it through the platform's adapter. The platform's own identity of the
request is the row's unique key, so a request sent twice (Slack retries an event it thinks
was lost) is answered once."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from .errors import PlatformRefused
from .models import ChatRequest, Platform
from .readers import reader_for

logger = logging.getLogger(__name__)

# Each platform's adapter: `prepare(request, payload, reader)` gives the callable that sends
# the answer. Another platform adds its line here.
ADAPTERS = {Platform.SLACK: "chat.slack.delivery.prepare"}

# Slack accepts answers on a response_url for 30 minutes; past that, a lost job is not sent.
ANSWERABLE_FOR = timedelta(minutes=25)
# A request this young may still be in its first job: the sweep leaves it alone.
SWEEP_GRACE = timedelta(seconds=60)
MAX_ATTEMPTS = 10
# Questions hold what people wrote in their channels: kept no longer than needed.
KEEP_FOR = timedelta(days=1)


def submit(
    *,
    platform: str,
    kind: str,
    key: str,
    team_id: str,
    external_user_id: str,
    payload: dict,
) -> ChatRequest | None:
    """Record a question and queue its answer once this transaction commits (at once
    outside a transaction). None when a request with the same `key` was already recorded:
    it is being answered."""
    try:
        # A savepoint: a duplicate key must not spoil an enclosing transaction.
        with transaction.atomic():
            request = ChatRequest.objects.create(
                platform=platform,
                kind=kind,
                key=key[:200],
                team_id=team_id[:64],
                external_user_id=external_user_id[:64],
                payload=json.dumps(payload),
            )
    except IntegrityError:
        return None
    from .tasks import enqueue_answer

    transaction.on_commit(lambda: enqueue_answer(request.pk))
    return request


def answer_request(request_id: int) -> bool:
    """Answer a recorded question unless it was answered already; True when answered now.

    The answer is computed first (the similarity search is the slow part), then the row is
    locked, checked again and marked in the transaction that sends: two jobs for the same
    question send one answer. `PlatformUnavailable` (a `ConnectionError`) rolls the mark back
    and the job is retried; a refusal for good is recorded in `failure` and not retried."""
    request = ChatRequest.objects.filter(pk=request_id, answered_at__isnull=True).first()
    if request is None:
        return False
    ChatRequest.objects.filter(pk=request_id).update(attempts=F("attempts") + 1)
    if not request.payload:
        # Stored under an encryption key that is gone: the question cannot be read again.
        ChatRequest.objects.filter(pk=request_id).update(
            answered_at=timezone.now(), failure="The stored question could not be decrypted."
        )
        return False
    payload = json.loads(request.payload)
    reader = reader_for(
        platform=request.platform,
        team_id=request.team_id,
        external_user_id=request.external_user_id,
    )
    send = import_string(ADAPTERS[request.platform])(request, payload, reader)
    with transaction.atomic():
        locked = (
            ChatRequest.objects.select_for_update()
            .filter(pk=request_id, answered_at__isnull=True)
            .first()
        )
        if locked is None:
            return False
        try:
            send()
        except PlatformRefused as error:
            logger.warning("chat request %s refused: %s", request_id, error)
            locked.failure = str(error)[:300]
        locked.answered_at = timezone.now()
        locked.save(update_fields=["answered_at", "failure"])
    return True


def unanswered_ids(*, grace: timedelta = SWEEP_GRACE, limit: int = 500) -> list[int]:
    """Questions whose job was lost (the broker was down, a worker died) and that the
    platform still accepts an answer to."""
    now = timezone.now()
    return list(
        ChatRequest.objects.filter(
            answered_at__isnull=True,
            created_at__lte=now - grace,
            created_at__gte=now - ANSWERABLE_FOR,
            attempts__lt=MAX_ATTEMPTS,
        )
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def forget_old(*, now=None) -> int:
    """Delete questions older than `KEEP_FOR`; returns how many."""
    now = now or timezone.now()
    deleted, _ = ChatRequest.objects.filter(created_at__lt=now - KEEP_FOR).delete()
    return deleted
