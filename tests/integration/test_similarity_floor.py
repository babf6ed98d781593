"""The floor of the 100,000-review benchmark (`bench/floor_wsgi.py`) answers exactly as Seams
does on the real PostgreSQL. It is Seams' PostgreSQL path written out by hand, so a change to
how Seams reads a question that is not copied there would otherwise surface only as a
disagreement hours into a benchmark run (as it once did)."""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from similarity import index
from tests.conftest import token_client
from tests.factories import UserFactory

# Committed, so that the floor reads the reviews through its own connection, as it does in the
# benchmark (Django's connection hands JSON columns over undecoded, for its fields to decode).
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BENCH = Path(__file__).resolve().parents[2] / "bench"
# A whole review asked as a question: longer than both the term focus and the pattern
# evidence opening, with how it was handled told after its opening.
LONG_QUESTION = " ".join(
    [
        "Logins failed for an hour because the TLS certificate on the edge proxies expired.",
        "Nobody owned its renewal and the expiry warning went to a list nobody read.",
        *["The on-call engineer joined the bridge, paged the proxy team and took notes."] * 14,
        "We rolled back the configuration, restored from backup and failed over to the spare.",
    ]
)
QUESTIONS = [
    "Checkout timed out after the card provider slowed down and clients retried.",
    "The certificate expired",
    LONG_QUESTION,
]


@pytest.fixture
def floor():
    """The floor module, with none of its per-process caches left from another test."""
    sys.path.insert(0, str(BENCH))
    try:
        import floor_wsgi
    finally:
        sys.path.remove(str(BENCH))
    floor_wsgi._cache.clear()
    index._stats.clear()
    yield floor_wsgi
    floor_wsgi._cache.clear()
    index._stats.clear()


@pytest.fixture
def floor_connection():
    """A plain psycopg connection to the test database, set up as the floor's own."""
    db = connection.settings_dict
    conn = psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        autocommit=True,
        options="-c jit=off",
    )
    yield conn
    conn.close()


@pytest.fixture
def archive(save_review):
    for organisation, title, summary, narrative in [
        ("Acme", "Logins failed at Acme", "The TLS certificate expired on the edge proxies.",
         "Nobody renewed it; the expiry alert went to an old list. We rolled back."),
        ("Globex", "Checkout handshakes failed",
         "An intermediate certificate expired and clients refused connections.", ""),
        ("Initech", "Card payments timed out",
         "The card provider slowed down; client retries multiplied the load into a retry storm.",
         "Retries without backoff kept the provider saturated after it recovered."),
        ("Acme", "Database disk filled", "Logs grew until the volume was full.",
         "Writes stopped; we restored from backup and failed over."),
        ("", "Queue backlog", "Client retries saturated the queue after a slow deploy.", ""),
    ]:  # fmt: skip
        save_review(title=title, summary=summary, narrative=narrative, organisation=organisation)


def _without_urls(answer: dict) -> dict:
    for row in answer.get("incidents", []):
        row.pop("url", None)
    return answer


def test_the_floor_answers_every_question_as_seams_does(archive, floor, floor_connection):
    reader = UserFactory(is_superuser=True, is_staff=True)
    api = token_client(reader, "read")
    for text in QUESTIONS:
        payload = {"text": text, "limit": 5}
        seams = api.post("/api/v1/similar/", payload, format="json")
        assert seams.status_code == 200, seams.content
        bare = floor.answer(
            floor_connection, user=reader.pk, superuser=True, payload=payload, host="x"
        )
        expected = _without_urls(seams.json())
        assert expected["incidents"], f"nothing found for {text[:40]!r}: the test proves nothing"
        assert _without_urls(bare) == expected, text[:60]
