"""Background jobs of chat: answering one question, and the sweep that catches up questions
whose job was lost."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from common.after_response import run_after_response
from incidents.tasks import RETRY_POLICY

logger = logging.getLogger(__name__)


@shared_task(name="chat.answer_request", soft_time_limit=60, time_limit=75, **RETRY_POLICY)
def answer_request_task(request_id: int) -> bool:
    """Answer one recorded chat question (idempotent: answered once however often run)."""
    from .services import answer_request

    return answer_request(request_id)


def enqueue_answer(request_id: int) -> bool:
    """Queue the answer; if the broker is down, the sweep queues it later. False then.

    In the embedded mode the job runs in-process; it is held until the platform's
    acknowledgement has been sent (`common.after_response`), so a slow search cannot make
    the platform give up on the request."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        run_after_response(lambda: answer_request_task.apply_async(args=[request_id]))
        return True
    try:
        answer_request_task.apply_async(args=[request_id])
    except Exception:
        logger.warning("could not queue the answer to chat request %s", request_id, exc_info=True)
        return False
    return True


@shared_task(name="chat.sweep_unanswered", soft_time_limit=50, time_limit=58, **RETRY_POLICY)
def sweep_unanswered_task() -> int:
    """Queue again the questions whose job was lost; forget day-old ones."""
    return sweep_unanswered()


def sweep_unanswered(*, grace: timedelta | None = None) -> int:
    """Queue the answer of every question still unanswered after the grace period and still
    answerable; delete questions a day old. Returns how many were queued."""
    from .services import SWEEP_GRACE, forget_old, unanswered_ids

    ids = unanswered_ids(grace=SWEEP_GRACE if grace is None else grace)
    for pk in ids:
        enqueue_answer(pk)
    forget_old()
    return len(ids)
