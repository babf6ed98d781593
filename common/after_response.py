"""Work to do once the current HTTP response has gone out.

In the embedded mode (no Redis) Celery runs a job in-process as soon as it is queued, which
inside a request means before the response is sent. Most jobs may: the person waiting is the
one whose save started them. A chat platform's request may not: Slack drops an
acknowledgement that takes longer than three seconds and shows the person an error, although
their answer is on its way. `run_after_response` holds such a job until Django has handed the
response to the server (`request_finished`, sent when the server closes the response after
writing it) and runs it then, in the same thread and on the same database connection.
Outside a request (a job, a shell, a management command) it runs the job at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.core.signals import request_finished, request_started

logger = logging.getLogger(__name__)

_held = threading.local()


def _begin(**kwargs) -> None:
    _held.jobs = []


def _finish(**kwargs) -> None:
    jobs, _held.jobs = getattr(_held, "jobs", None), None
    for job in jobs or ():
        try:
            job()
        except Exception:
            # The response is gone; a failure here reaches nobody but the log (and the job's
            # own catch-up sweep, which is why nothing is lost).
            logger.exception("a job held until after the response failed")


def run_after_response(job: Callable[[], object]) -> None:
    """Run `job` once the current request's response has been sent; at once outside one."""
    jobs = getattr(_held, "jobs", None)
    if jobs is None:
        job()
    else:
        jobs.append(job)


def connect() -> None:
    """Listen for requests starting and finishing (from an app's `ready`; idempotent)."""
    request_started.connect(_begin, dispatch_uid="seams.after_response.begin")
    request_finished.connect(_finish, dispatch_uid="seams.after_response.finish")
