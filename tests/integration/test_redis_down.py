"""With Redis really gone, Seams still answers: the cache and the API throttle fail open.

A redis-server of the test's own is started, a gunicorn serving Seams is pointed at it, and
the redis-server is killed. Reading, writing and logging in must all still work; the
analyses of what was saved are caught up by the sweep once Redis is back.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from incidents.models import ApiToken, Incident
from incidents.tasks import sweep_stale_analyses
from people.roles import set_role
from tests.brokers import broker

from .conftest import ROOT, wait_for
from .test_real_stack import PrivateRedis

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
PASSWORD = "a long and correct password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gunicorn(*, database_url: str, redis_url: str, port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "AXES_ENABLED": "1",
        "LOG_LEVEL": "WARNING",
    }
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    process = subprocess.Popen(
        [gunicorn, "config.wsgi", "--config", "config/gunicorn.conf.py",
         "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip

    def up() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
        except requests.RequestException:  # not listening yet, or still booting
            return False

    wait_for(up, timeout=60, what="gunicorn to serve")
    return process


def test_with_redis_killed_reading_writing_and_logging_in_still_work(
    test_database_url, django_user_model, tmp_path
):
    user = django_user_model.objects.create_user("oncall", password=PASSWORD)
    set_role(user, "author")
    _, key = ApiToken.generate(name="bot", user=user, scope="write")
    redis = PrivateRedis(_free_port())
    redis.start()
    port, log = _free_port(), tmp_path / "gunicorn.log"
    server = _gunicorn(database_url=test_database_url, redis_url=redis.url, port=port, log=log)
    base = f"http://127.0.0.1:{port}"
    api = requests.Session()
    api.headers["Authorization"] = f"Token {key}"
    try:
        assert api.get(f"{base}/api/v1/incidents/", timeout=10).status_code == 200

        redis.process.send_signal(signal.SIGKILL)  # gone, as after a crash
        redis.process.wait(timeout=10)
        redis.process = None

        started = time.monotonic()
        created = api.post(
            f"{base}/api/v1/incidents/",
            json={"title": "Written while Redis was down", "summary": "Still saved."},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        draft = created.json()["id"]
        listed = api.get(f"{base}/api/v1/incidents/", timeout=10)
        assert listed.status_code == 200
        assert draft in [row["id"] for row in listed.json()["results"]]
        assert api.get(f"{base}/api/v1/incidents/{draft}/", timeout=10).status_code == 200
        assert api.get(f"{base}/api/v1/patterns/", timeout=10).status_code == 200

        browser = requests.Session()
        page = browser.get(f"{base}/login/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        logged_in = browser.post(
            f"{base}/login/",
            data={"username": "oncall", "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/login/"},
            timeout=10,
        )
        assert logged_in.status_code == 200
        assert "Signed in as" in logged_in.text
        form = browser.get(f"{base}/incidents/new/", timeout=10)
        assert form.status_code == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        management = {
            f"{prefix}-{name}": value
            for prefix in ("timeline", "factors", "actions", "patterns")
            for name, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))
        }
        saved = browser.post(
            f"{base}/incidents/new/",
            data={
                "csrfmiddlewaretoken": token, "title": "Saved on the web during the outage",
                "status": "draft", "severity": "sev3", "summary": "Nothing lost.", **management,
            },
            headers={"Referer": f"{base}/incidents/new/"},
            timeout=30,
        )  # fmt: skip
        assert saved.status_code == 200, saved.text[-2000:]
        assert Incident.objects.filter(title="Saved on the web during the outage").exists()
        # Neither request waited on the dead Redis for long.
        assert time.monotonic() - started < 30

        ready = requests.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"

        output = log.read_text(errors="replace")
        assert "cache failed open" in output or "API throttle failed open" in output, output
        assert "Internal Server Error" not in output
        assert Incident.objects.needing_analysis().count() == 2

        # Redis back: the sweep queues what was missed and a worker catches up.
        redis.start()
        with broker(redis.url):
            assert sweep_stale_analyses(grace_seconds=0) == 2
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        redis.stop()
