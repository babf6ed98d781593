"""Pointing the Celery app at another broker for a test, without mocking the broker."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from kombu import pools

from config.celery_app import app


def _drop_connections() -> None:
    # The app caches its connection and producer pools; drop them so the next publish
    # connects to whatever `broker_url` says now.
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    pools.reset()  # kombu keeps producer pools per connection, process-wide


@contextlib.contextmanager
def broker(url: str, *, eager: bool = False) -> Iterator[None]:
    """Use the broker at `url` (really connecting to it) for the duration of the block."""
    saved = (app.conf.broker_url, app.conf.task_always_eager)
    _drop_connections()
    app.conf.broker_url = url
    app.conf.task_always_eager = eager
    try:
        yield
    finally:
        _drop_connections()
        app.conf.broker_url, app.conf.task_always_eager = saved
