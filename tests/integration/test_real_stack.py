"""A review travels through the real stack: API → PostgreSQL → Redis → worker → API."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import ApiToken, Incident, RecurrenceMembership
from incidents.tasks import sweep_stale_analyses
from people.roles import set_role
from tests.brokers import broker

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def write_api(django_user_model) -> APIClient:
    user = django_user_model.objects.create(username="incident-bot")
    set_role(user, "author")  # a bot that opens drafts writes reviews
    _, key = ApiToken.generate(name="bot", user=user, scope="write")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def _draft(api: APIClient, title: str, components: list[str]) -> int:
    """A draft for an incident that began now: after every review written before it, so it
    recurs if an earlier one shows the same structure (docs/recurrence.md)."""
    response = api.post(
        "/api/v1/incidents/",
        {
            "title": title,
            "started_at": timezone.now().isoformat(),
            "patterns": [{"slug": "fast-global-propagation", "rationale": "Went everywhere."}],
            "components": components,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_runs_on_postgresql():
    assert connection.vendor == "postgresql"


def test_seams_connections_do_not_compile_statements_first():
    """JIT is off for Seams' sessions (config/settings/base.py): it cost more than the
    per-reader statements it compiled."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_a_review_created_through_the_api_is_analysed_by_the_worker(
    write_api, start_worker, flush_queue
):
    worker = start_worker()
    first = _draft(write_api, "Regex pinned the edge", ["WAF rules"])
    second = _draft(write_api, "Feature file panicked the proxy", ["Core proxy"])

    def analysed() -> bool:
        return not Incident.objects.needing_analysis().exists()

    wait_for(analysed, what="the worker to analyse both drafts")
    assert "incidents.analyse_incident" in worker.output()

    recurrences = write_api.get("/api/v1/recurrences/").json()["results"]
    assert len(recurrences) == 1
    assert {i["id"] for i in recurrences[0]["incidents"]} == {first, second}
    assert recurrences[0]["components"] == ["Core proxy", "WAF rules"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of our own, so the test can stop and start the broker for real."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        server = shutil.which("redis-server")
        assert server, "redis-server is not installed"
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._up, timeout=20, what="redis-server to accept connections")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def _up(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False


def test_reviews_saved_while_redis_is_down_are_analysed_once_it_is_back(write_api, start_worker):
    redis = PrivateRedis(_free_port())
    redis.start()
    try:
        with broker(redis.url):
            start_worker(redis_url=redis.url)
            first = _draft(write_api, "Before the outage", ["Config push"])
            wait_for(
                lambda: not Incident.objects.needing_analysis().exists(),
                what="analysis before the outage",
            )

            redis.stop()
            started = time.monotonic()
            during = [
                _draft(write_api, f"During the outage {n}", [f"Service {n}"]) for n in range(3)
            ]
            # Saves are neither refused nor slowed to a crawl by the dead broker.
            assert time.monotonic() - started < 30
            assert Incident.objects.needing_analysis().count() == 3

            redis.start()
            assert sweep_stale_analyses(grace_seconds=0) == 3
            wait_for(
                lambda: not Incident.objects.needing_analysis().exists(),
                what="the sweep's jobs to be analysed by the worker",
            )
    finally:
        redis.stop()

    for pk in [first, *during]:
        assert RecurrenceMembership.objects.filter(incident_id=pk).count() == 1
    assert RecurrenceMembership.objects.count() == 4


def test_a_report_is_generated_by_the_worker_over_the_api(write_api, start_worker, flush_queue):
    start_worker()
    # Two incidents in the window, the second after the first's review existed (created now,
    # so the second begins later): one recurrence.
    now = timezone.now()
    days = [now - timedelta(days=20), now + timedelta(seconds=5)]
    for title, day in zip(["Regex pinned the edge", "File panicked"], days, strict=True):
        response = write_api.post(
            "/api/v1/incidents/",
            {
                "title": title,
                "severity": "sev2",
                "started_at": day.isoformat(),
                "resolved_at": (day + timedelta(hours=2)).isoformat(),
                "patterns": [{"slug": "fast-global-propagation", "rationale": "Everywhere."}],
            },
            format="json",
        )
        assert response.status_code == 201
    wait_for(lambda: not Incident.objects.needing_analysis().exists(), what="analysis")
    response = write_api.post(
        "/api/v1/reports/",
        {
            "since": (now - timedelta(days=30)).isoformat(),
            "until": (now + timedelta(days=1)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 202
    url = response.json()["url"]

    def done() -> bool:
        return write_api.get(url).json()["status"] == "done"

    wait_for(done, what="the worker to generate the report")
    snapshot = write_api.get(url).json()["snapshot"]
    assert snapshot["headline"]["incidents"] == 2
    assert snapshot["headline"]["weighted_hours"] == 16.0  # two 2-hour SEV2 incidents, weight 4
    assert snapshot["headline"]["structures_recurred"] == 1
    assert snapshot["structures"][0]["patterns"] == ["Fast global propagation"]


def test_full_text_search_on_postgresql_ranks_title_matches_first(write_api):
    for title, summary in [
        ("Disk filled on the build hosts", "Certificate renewal logs grew without rotation."),
        ("Certificate expired on the edge", "TLS handshakes failed after the certificate lapsed."),
        ("Queue backlog", "Consumers stalled."),
    ]:
        body = {"title": title, "summary": summary}
        assert write_api.post("/api/v1/incidents/", body, format="json").status_code == 201
    rows = write_api.get("/api/v1/incidents/?q=certificate").json()["results"]
    assert [r["title"] for r in rows] == [
        "Certificate expired on the edge",
        "Disk filled on the build hosts",
    ]


def test_full_text_search_finds_words_deep_in_a_review_and_ranks_the_opening_first(write_api):
    filler = "Traffic was normal and the dashboards were quiet for the whole shift. " * 12
    for title, summary in [
        ("Late mention", filler + "Much later the replica lag alarm fired."),
        ("Early mention", "The replica lag alarm fired first. " + filler),
        ("No mention", filler),
    ]:
        body = {"title": title, "summary": summary}
        assert write_api.post("/api/v1/incidents/", body, format="json").status_code == 201
    answer = write_api.get("/api/v1/incidents/?q=replica lag").json()
    assert [r["title"] for r in answer["results"]] == ["Early mention", "Late mention"]
    assert answer["next"] is None


def test_list_rows_on_postgresql_match_the_detail_answer(write_api):
    # The list builds rows from plain statements and text timestamps; the detail goes
    # through DRF's serializers. Every field the list shows must read the same.
    for started in ("2025-01-02T03:04:05.120000Z", "2025-01-02T03:04:05Z"):
        body = {
            "title": f"Started {started}", "summary": "s", "started_at": started,
            "resolved_at": "2025-01-02T05:00:00.000001Z",
            "shapes": ["cascade", "concentration"], "components": ["Zeta", "Alpha"],
            "patterns": [{"slug": "slack-erosion", "rationale": "r1"},
                         {"slug": "alert-fatigue", "rationale": "r2"}],
            "action_items": [
                {"title": "Patch", "status": "done", "due": "2025-02-01",
                 "leverage_level": "rules", "pattern": "slack-erosion"},
                {"title": "Rework", "kind": "structural_fix"},
            ],
        }  # fmt: skip
        assert write_api.post("/api/v1/incidents/", body, format="json").status_code == 201
    rows = write_api.get("/api/v1/incidents/").json()["results"]
    for row in rows[:2]:
        detail = write_api.get(row["url"]).json()
        assert row == {key: detail[key] for key in row}
        assert row["components"] == ["Alpha", "Zeta"]
        assert [a["title"] for a in row["action_items"]] == ["Patch", "Rework"]
        assert row["action_items"][0]["completed_at"] is not None  # done: stamped on save
    assert {r["started_at"] for r in rows[:2]} == {
        "2025-01-02T03:04:05.120000Z",
        "2025-01-02T03:04:05Z",
    }
