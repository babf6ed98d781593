"""The integration suite: the real PostgreSQL, the real Redis and a real Celery worker.

Nothing here is mocked, and nothing is skipped: if a service is missing the suite fails with
a message that says which one and how to start it. Run with `make test-integration`; the
defaults match the services `.ci/run` starts (override with DATABASE_URL / REDIS_URL).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def pytest_configure(config):
    if config.getoption("markexpr") != "integration":
        return
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name, "").startswith(("postgres", "redis")):
            pytest.exit(f"integration suite needs {name} (make test-integration sets it)", 3)
    missing = []
    if not _reachable(os.environ["DATABASE_URL"], 5432):
        missing.append(f"PostgreSQL at {os.environ['DATABASE_URL']}")
    if not _reachable(os.environ["REDIS_URL"], 6379):
        missing.append(f"Redis at {os.environ['REDIS_URL']}")
    if missing:
        pytest.exit(
            "integration suite needs " + " and ".join(missing) + " (see README: real stack)",
            returncode=3,
        )


@pytest.fixture(scope="session")
def test_database_url(django_db_setup, django_db_blocker) -> str:
    """The URL of the test database pytest-django created, for the worker to use too."""
    from django.db import connection

    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
    parsed = urlparse(os.environ["DATABASE_URL"])
    return parsed._replace(path=f"/{name}").geturl()


class Worker:
    """A `celery worker` subprocess against the given broker and database."""

    def __init__(
        self, *, database_url: str, redis_url: str, log: Path, visibility_timeout: int = 900
    ) -> None:
        self.visibility_timeout = visibility_timeout
        self.database_url = database_url
        self.redis_url = redis_url
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "SEAMS_ANALYSIS_GRACE_SECONDS": "0",
            "CELERY_VISIBILITY_TIMEOUT": str(self.visibility_timeout),
        }
        celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
        self.process = subprocess.Popen(
            [celery, "-A", "config", "worker", "--loglevel=INFO", "--concurrency=1",
             "--pool=prefork", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if "ready." in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"celery worker did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_worker(test_database_url, tmp_path) -> Iterator[Callable[..., Worker]]:
    """Start real workers; every one started is stopped at the end of the test."""
    workers: list[Worker] = []

    def _start(redis_url: str | None = None, visibility_timeout: int = 900) -> Worker:
        worker = Worker(
            database_url=test_database_url,
            redis_url=redis_url or os.environ["REDIS_URL"],
            log=tmp_path / f"worker{len(workers)}.log",
            visibility_timeout=visibility_timeout,
        )
        worker.start()
        workers.append(worker)
        return worker

    yield _start
    for worker in workers:
        worker.kill(signal.SIGKILL)


@pytest.fixture
def flush_queue():
    """Start from an empty queue, so a previous run's messages cannot satisfy a test."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.flushdb()
    yield
    client.flushdb()


def wait_for(condition: Callable[[], bool], *, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
