"""The similarity index on the real PostgreSQL: the generated tsvector columns and their GIN
indexes, indexing on save, BM25 from the stored vectors, scoping, restricted reviews, the
search box and the API — the same answers the embedded (SQLite) mode gives."""

from __future__ import annotations

import pytest
from django.db import connection

from incidents.models import Incident
from similarity import index
from similarity.models import IndexedDocument
from similarity.questions import similar_to_text
from similarity.search import text_search
from tests.conftest import token_client
from tests.factories import GroupFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

QUESTION = "Logins failed for an hour: the TLS certificate expired on the edge proxies."


@pytest.fixture(autouse=True)
def fresh_counts():
    """Each test starts as a fresh process would: no archive counts cached by another test."""
    index._stats.clear()
    yield
    index._stats.clear()


@pytest.fixture
def superuser():
    return UserFactory(is_superuser=True, is_staff=True)


@pytest.fixture
def archive(save_review):
    """A certificate expiry at Acme, another at Globex, and reviews about other things."""
    reviews = {
        "acme_tls": save_review(
            title="Logins failed at Acme",
            summary="The TLS certificate expired on the edge proxies and handshakes failed.",
            narrative="Nobody renewed the TLS certificate; the expiry alert went to an old list.",
            organisation="Acme",
        ),
        "globex_tls": save_review(
            title="Checkout handshakes failed",
            summary="An intermediate TLS certificate expired and clients refused connections.",
            organisation="Globex",
        ),
        "acme_disk": save_review(
            title="Database disk filled",
            summary="Logs grew until the volume was full and writes stopped.",
            organisation="Acme",
        ),
        "queue": save_review(
            title="Queue backlog",
            summary="Client retries saturated the queue after a slow deploy.",
            narrative=(
                "Failover to us-east-1 stalled while the zeppelin batch job held locks; "
                "calls to api.example.com timed out and /var/log/queue filled."
            ),
        ),
        "east": save_review(
            title="Office network outage",
            summary="The east wing lost its uplink for an afternoon.",
            narrative="A small backlog of tickets built up.",
        ),
    }
    for _ in range(4):
        save_review(
            title="Deploy rolled back",
            summary="A bad build was rolled back after error rates rose.",
        )
    return reviews


def test_runs_on_postgresql():
    assert connection.vendor == "postgresql"


def test_migrations_add_the_generated_columns_and_their_gin_indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, is_generated FROM information_schema.columns "
            "WHERE table_name = 'similarity_indexeddocument' "
            "AND column_name IN ('document', 'cause_document') ORDER BY column_name"
        )
        columns = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'similarity_indexeddocument'"
        )
        indexes = dict(cursor.fetchall())
    assert columns == [
        ("cause_document", "tsvector", "ALWAYS"),
        ("document", "tsvector", "ALWAYS"),
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generation_expression FROM information_schema.columns "
            "WHERE table_name = 'similarity_indexeddocument' AND column_name = 'cause_document'"
        )
        expression = cursor.fetchone()[0]
    # Punctuation, "%" included once (not the doubled form the driver unescapes), is read
    # as spaces before the parser tokenises.
    assert "translate(" in expression
    assert "%%" not in expression
    assert "%" in expression
    assert "USING gin (document)" in indexes["similarity_document_gin"]
    assert "USING gin (cause_document)" in indexes["similarity_cause_gin"]


def test_saving_a_review_indexes_it_with_a_filled_vector(archive):
    pk = archive["acme_tls"].pk
    document = IndexedDocument.objects.get(incident_id=pk)
    assert document.organisation == "Acme"
    assert "TLS certificate expired" in document.body
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT document IS NOT NULL, document @@ to_tsquery('english', 'certificate'), "
            "cause_document @@ to_tsquery('english', 'expired') "
            "FROM similarity_indexeddocument WHERE incident_id = %s",
            [pk],
        )
        assert cursor.fetchone() == (True, True, True)
    assert IndexedDocument.objects.count() == Incident.objects.count()


def test_the_review_sharing_the_rare_mechanism_comes_first(archive, superuser):
    answer = similar_to_text(user=superuser, text=QUESTION)
    ids = [m.incident.pk for m in answer.results]
    assert ids[0] in {archive["acme_tls"].pk, archive["globex_tls"].pk}
    assert {archive["acme_tls"].pk, archive["globex_tls"].pk} <= set(ids[:2])
    top = answer.results[0]
    assert top.lexical > 0  # BM25 read from the stored vectors
    assert top.confidence in {"strong", "possible", "weak"}
    assert answer.confidence == top.confidence
    # The disk review shares no word of the question worth ranking by.
    assert archive["acme_disk"].pk not in ids[:2]


def test_organisation_scope_only_returns_that_organisations_reviews(archive, superuser):
    answer = similar_to_text(
        user=superuser, text=QUESTION, scope="organisation", organisation="Acme"
    )
    assert answer.results, "Acme's own certificate expiry should be found"
    assert answer.results[0].incident.pk == archive["acme_tls"].pk
    assert {m.incident.organisation for m in answer.results} == {"Acme"}


def test_a_restricted_review_is_returned_only_to_its_group(archive):
    group = GroupFactory()
    restricted = archive["globex_tls"]
    Incident.objects.filter(pk=restricted.pk).update(restricted_to=group)
    outsider = UserFactory()
    member = UserFactory()
    member.groups.add(group)

    seen_by_outsider = [
        m.incident.pk for m in similar_to_text(user=outsider, text=QUESTION).results
    ]
    seen_by_member = [m.incident.pk for m in similar_to_text(user=member, text=QUESTION).results]

    assert restricted.pk not in seen_by_outsider
    assert archive["acme_tls"].pk in seen_by_outsider
    assert restricted.pk in seen_by_member


def test_search_finds_a_region_name_as_a_phrase(archive):
    found = list(text_search(Incident.objects.all(), "us-east-1").values_list("pk", flat=True))
    assert found == [archive["queue"].pk]
    assert archive["east"].pk not in found


def test_search_reads_the_narrative_and_stems(archive):
    found = list(text_search(Incident.objects.all(), "zeppelin").values_list("pk", flat=True))
    assert found == [archive["queue"].pk]
    found = list(text_search(Incident.objects.all(), "retry").values_list("pk", flat=True))
    assert found == [archive["queue"].pk]
    # Every word must be present.
    assert not text_search(Incident.objects.all(), "retry certificate").exists()


def test_the_similar_api_answers_with_confidence_and_scope(archive, user):
    api = token_client(user, "read")
    response = api.post("/api/v1/similar/", {"text": QUESTION}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["scope"] == "anywhere"
    assert data["confidence"]["level"] in {"strong", "possible", "weak"}
    assert isinstance(data["confident_match"], bool)
    assert data["incidents"][0]["id"] in {archive["acme_tls"].pk, archive["globex_tls"].pk}

    response = api.post(
        "/api/v1/similar/",
        {"text": QUESTION, "scope": "organisation", "organisation": "Acme"},
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["scope"] == "organisation"
    assert [i["id"] for i in data["incidents"]][:1] == [archive["acme_tls"].pk]


def test_search_finds_dotted_and_slashed_terms_as_phrases(archive):
    # PostgreSQL's parser keeps "api.example.com" and "/var/log/queue" as single tokens,
    # while the search (like the embedded mode) reads them as the words they contain.
    for text in ("example.com", "api.example.com", "var/log", "/var/log/queue"):
        found = list(text_search(Incident.objects.all(), text).values_list("pk", flat=True))
        assert found == [archive["queue"].pk], text


def test_a_question_naming_a_host_finds_the_review_naming_it(archive, superuser):
    answer = similar_to_text(user=superuser, text="Nothing could reach api.example.com.")
    assert answer.results[0].incident.pk == archive["queue"].pk
    assert answer.results[0].lexical > 0


def test_words_sharing_a_stem_each_count_as_on_the_embedded_index(archive, superuser):
    # "retry" and "retries" are two terms of the question but one lexeme in the stored
    # vector; each must score, or a perfect match reads as a weaker one than on SQLite.
    def lexical(text: str) -> float:
        index._stats.clear()
        answer = similar_to_text(user=superuser, text=text)
        return next(m.lexical for m in answer.results if m.incident.pk == archive["queue"].pk)

    once = lexical("Client retries.")
    twice = lexical("Client retries: every retry.")
    assert twice == pytest.approx(once, rel=0.01)


def test_search_ranks_a_title_match_above_a_narrative_match(archive):
    found = list(text_search(Incident.objects.all(), "backlog").values_list("pk", flat=True))
    assert found == [archive["queue"].pk, archive["east"].pk]
