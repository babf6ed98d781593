"""Every API write over real HTTP, on both servers Seams runs under.

`make run` serves with Django's development server (wsgiref, strict about header types);
`make serve` and the image serve with gunicorn. A header value that one tolerates and the
other refuses turned every 201 into a 500 under `make run` while the row was committed, so a
retrying bot made duplicates. Each server runs as a real subprocess on a free port, with a
throwaway SQLite database and a real write token.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(database: Path, *, debug: bool) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DATABASE_URL=f"sqlite:///{database}",
        DEBUG="1" if debug else "0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_COOKIES="0",
        SEAMS_API_RATE="100000/min",
    )
    return env


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> tuple[Path, str]:
    """A migrated SQLite database with a write token; yields (path, key)."""
    path = tmp_path_factory.mktemp("servers") / "seams.sqlite3"
    env = _environment(path, debug=True)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    script = (
        "from django.contrib.auth import get_user_model;"
        "get_user_model().objects.create(username='bot', is_superuser=True)"
    )
    subprocess.run([*manage, "shell", "-v0", "-c", script], cwd=ROOT, env=env, check=True)
    key = subprocess.run(
        [*manage, "create_api_token", "bot", "--scope", "write", "--user", "bot"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    return path, key


def _command(server: str, port: int) -> list[str]:
    if server == "runserver":
        return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    return [str(BIN / "gunicorn"), "config.wsgi", "--config", "config/gunicorn.conf.py",
            "--bind", f"127.0.0.1:{port}", "--workers", "2"]  # fmt: skip


@pytest.fixture(scope="module", params=["runserver", "gunicorn"])
def server(request, database, tmp_path_factory) -> Iterator[requests.Session]:
    """A session pointed at the running server, with the write token."""
    path, key = database
    port = _free_port()
    log = tmp_path_factory.mktemp(request.param) / "server.log"
    env = _environment(path, debug=request.param == "runserver")
    with log.open("wb") as out:
        process = subprocess.Popen(
            _command(request.param, port), cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.headers["Authorization"] = f"Token {key}"
    session.base = base  # type: ignore[attr-defined]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still booting
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{request.param} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield session
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text()[-5000:]


def _url(server: requests.Session, path: str) -> str:
    return server.base + path  # type: ignore[attr-defined]


def _json(answer: requests.Response, code: int) -> dict:
    assert answer.status_code == code, answer.text[:2000]
    assert answer.headers["Content-Type"].startswith("application/json")
    return answer.json()


def _draft(server: requests.Session, **headers) -> requests.Response:
    return server.post(
        _url(server, "/api/v1/incidents/"),
        json={
            "title": "Checkout errors after config push",
            "severity": "sev2",
            "started_at": "2026-11-24T09:12:00Z",
            "patterns": [{"slug": "fast-global-propagation", "rationale": "Everywhere at once."}],
            "components": ["Checkout"],
        },
        headers=headers,
        timeout=30,
    )


def test_creating_a_draft_answers_201_with_its_location(server):
    answer = _draft(server)
    body = _json(answer, 201)
    assert answer.headers["Location"] == body["url"]
    assert body["url"].endswith(f"/api/v1/incidents/{body['id']}/")
    assert answer.headers["ETag"].startswith('"incident-')
    assert _json(server.get(answer.headers["Location"], timeout=30), 200)["id"] == body["id"]


def test_patch_answers_200_and_a_stale_if_match_412(server):
    created = _draft(server)
    url, etag = created.headers["Location"], created.headers["ETag"]
    answer = server.patch(url, json={"summary": "A config push broke checkout."}, timeout=30)
    assert _json(answer, 200)["summary"] == "A config push broke checkout."
    assert answer.headers["ETag"] != etag
    stale = server.patch(url, json={"title": "Late"}, headers={"If-Match": etag}, timeout=30)
    assert _json(stale, 412)["error"]["code"] == "precondition_failed"
    conflict = server.patch(url, json={"title": "Late", "version": 1}, timeout=30)
    assert _json(conflict, 409)["error"]["code"] == "conflict"


def test_appending_timeline_events_and_action_items_answers_201(server):
    url = _draft(server).headers["Location"]
    event = {"occurred_at": "2026-11-24T09:14:00Z", "kind": "detection", "text": "Alert."}
    answer = server.post(f"{url}timeline/", json={"events": [event]}, timeout=30)
    assert [e["text"] for e in _json(answer, 201)["timeline"]] == ["Alert."]
    assert answer.headers["Location"] == url
    answer = server.post(
        f"{url}action-items/", json={"action_items": [{"title": "Canary it."}]}, timeout=30
    )
    assert [a["title"] for a in _json(answer, 201)["action_items"]] == ["Canary it."]
    assert answer.headers["Location"] == url


def test_asking_for_a_report_answers_202_with_where_to_poll(server):
    answer = server.post(
        _url(server, "/api/v1/reports/"),
        json={"since": "2025-01-01T00:00:00Z", "until": "2025-07-01T00:00:00Z"},
        timeout=30,
    )
    body = _json(answer, 202)
    assert answer.headers["Location"] == body["url"]
    assert _json(server.get(body["url"], timeout=30), 200)["id"] == body["id"]


def test_asking_have_we_seen_this_before_answers_200(server):
    answer = server.post(
        _url(server, "/api/v1/similar/"),
        json={"text": "config pushed everywhere at once; every proxy crashed", "limit": 3},
        timeout=30,
    )
    assert set(_json(answer, 200)) >= {"incidents", "patterns"}


def test_a_retried_create_with_an_idempotency_key_answers_the_same_and_stores_one(server):
    key = secrets.token_hex(8)
    first = _draft(server, **{"Idempotency-Key": key})
    again = _draft(server, **{"Idempotency-Key": key})
    assert _json(again, 201) == _json(first, 201)
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = server.get(_url(server, "/api/v1/incidents/?page_size=100"), timeout=30).json()
    assert [i["id"] for i in listed["results"]].count(first.json()["id"]) == 1


def test_a_reused_idempotency_key_with_another_body_is_refused(server):
    key = secrets.token_hex(8)
    _json(_draft(server, **{"Idempotency-Key": key}), 201)
    other = server.post(
        _url(server, "/api/v1/incidents/"),
        json={"title": "Something else"},
        headers={"Idempotency-Key": key},
        timeout=30,
    )
    assert _json(other, 422)["error"]["code"] == "idempotency_key_reused"


def test_parallel_appends_are_all_stored_on_the_embedded_database(server):
    """SQLite has no row locks: each write takes its write lock before reading the review."""
    url = _draft(server).headers["Location"]

    def append(n: int) -> int:
        event = {"occurred_at": f"2026-11-24T10:{n:02d}:00Z", "text": f"event {n}"}
        return server.post(f"{url}timeline/", json={"events": [event]}, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(append, range(10)))

    assert codes == [201] * 10
    stored = _json(server.get(url, timeout=30), 200)["timeline"]
    assert sorted(e["text"] for e in stored) == sorted(f"event {n}" for n in range(10))
