"""POST /api/v1/similar/ and GET /api/v1/incidents/{id}/similar/: scores with reasons."""

import pytest

from incidents.models import Incident
from taxonomy.models import StructuralPattern

from .factories import GroupFactory
from .test_api import assert_error

pytestmark = pytest.mark.django_db


def _term(slug: str) -> str:
    return StructuralPattern.objects.get(slug=slug).entry["match_terms"][0]


@pytest.fixture
def archive(save_review):
    return {
        "push": save_review(
            title="Rule deployed worldwide pinned CPU",
            summary=f"The rule was {_term('fast-global-propagation')}.",
            patterns=["fast-global-propagation"],
            components=["WAF"],
        ),
        "disk": save_review(
            title="Disk filled on the database host",
            summary="Logs grew until the volume was full.",
            patterns=["slack-erosion"],
            components=["Database"],
        ),
    }


def test_similar_returns_incidents_and_patterns_with_scores_and_explanations(read_api, archive):
    text = f"A feature file was {_term('fast-global-propagation')} and every proxy crashed."
    response = read_api.post("/api/v1/similar/", {"text": text, "limit": 3}, format="json")
    assert response.status_code == 200
    data = response.json()
    top = data["incidents"][0]
    assert top["id"] == archive["push"].pk
    assert 0 < top["score"] <= 1
    assert top["shared_patterns"][0]["slug"] == "fast-global-propagation"
    assert _term("fast-global-propagation") in top["shared_patterns"][0]["query_evidence"]
    assert "same structure" in top["why"]
    pattern = data["patterns"][0]
    assert pattern["slug"] == "fast-global-propagation"
    assert pattern["matched"]
    assert len(data["incidents"]) <= 3


def test_similar_for_a_stored_incident_excludes_itself(read_api, archive, save_review):
    twin = save_review(
        title="Config pushed everywhere at once",
        summary=f"It was {_term('fast-global-propagation')}.",
        patterns=["fast-global-propagation"],
    )
    data = read_api.get(f"/api/v1/incidents/{twin.pk}/similar/").json()
    ids = [i["id"] for i in data["incidents"]]
    assert twin.pk not in ids
    assert ids[0] == archive["push"].pk
    assert data["patterns"][0]["slug"] == "fast-global-propagation"


@pytest.mark.parametrize(
    "body", [{}, {"text": ""}, {"text": "x", "limit": 0}, {"text": "x", "limit": 500}]
)
def test_bad_questions_are_400(read_api, body):
    assert_error(read_api.post("/api/v1/similar/", body, format="json"), 400, "invalid")


def test_similar_never_returns_restricted_incidents_to_outsiders(read_api, archive):
    Incident.objects.filter(pk=archive["push"].pk).update(restricted_to=GroupFactory())
    text = f"It was {_term('fast-global-propagation')}; rule deployed worldwide pinned CPU."
    data = read_api.post("/api/v1/similar/", {"text": text}, format="json").json()
    assert archive["push"].pk not in [i["id"] for i in data["incidents"]]
    assert_error(read_api.get(f"/api/v1/incidents/{archive['push'].pk}/similar/"), 404)


def test_similar_without_a_token_is_401():
    from rest_framework.test import APIClient

    assert_error(APIClient().post("/api/v1/similar/", {"text": "x"}, format="json"), 401)


def test_similar_query_count_is_bounded(read_api, save_review, django_assert_max_num_queries):
    for n in range(20):
        save_review(title=f"Push {n}", patterns=["fast-global-propagation"], components=[f"C{n}"])
    text = f"It was {_term('fast-global-propagation')}."
    # Cold caches: the token and the reader's groups (3), merged copies (1), the catalogue's
    # mechanisms (1), the archive's counts (2) and pattern counts (2), every term's counts in
    # one statement (1), candidates by words, causes, each pattern and mechanism (≤ 5),
    # their scores (2), documents and patterns (2), the results described (2). None of it
    # grows with the archive or with the number of candidates.
    with django_assert_max_num_queries(22):
        response = read_api.post("/api/v1/similar/", {"text": text}, format="json")
    assert len(response.json()["incidents"]) == 5
