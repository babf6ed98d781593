"""Searching reviews: the whole review is searched, hyphenated and dotted names are matched as
they are written, word forms meet, and an empty result says so."""

import pytest

pytestmark = pytest.mark.django_db


def _titles(logged_in, query: str) -> str:
    """The list page for a search."""
    return logged_in.get("/", {"q": query}).content.decode()


def _api_titles(read_api, query: str) -> set[str]:
    response = read_api.get("/api/v1/incidents/", {"q": query})
    assert response.status_code == 200
    return {row["title"] for row in response.json()["results"]}


@pytest.fixture
def archive(save_review):
    # A long narrative whose one unusual word comes only at its end.
    steps = " ".join(
        f"At step {n} the on-call engineer compared panel {n} with the runbook." for n in range(120)
    )
    return {
        "deep": save_review(
            title="Slow checkout",
            summary="Checkout took ten seconds for an hour.",
            narrative=steps + " In the end the culprit was a misconfigured zookeeper quorum.",
        ),
        "region": save_review(
            title="Regional outage",
            summary="Instances in us-east-1 lost their volumes.",
        ),
        "east": save_review(
            title="East office printers",
            summary="The east wing lost its printers; one was fixed by a reboot.",
        ),
        "dotted": save_review(
            title="Public API unreachable",
            summary="The name api.example.com stopped resolving after a zone change.",
        ),
        "example": save_review(
            title="Sample data shipped",
            summary="The api docs used example.org; the status page at status.com was fine.",
        ),
        "retries": save_review(
            title="Thundering herd",
            summary="Client retries piled up on the recovering database.",
        ),
    }


def test_a_word_deep_in_the_narrative_is_found(logged_in, archive):
    html = _titles(logged_in, "zookeeper")
    assert "Slow checkout" in html
    assert "of 1 review" in html


def test_hyphenated_region_matches_as_written(logged_in, archive):
    html = _titles(logged_in, "us-east-1")
    assert "Regional outage" in html
    assert "East office printers" not in html


def test_dotted_name_matches_as_written(logged_in, archive):
    html = _titles(logged_in, "api.example.com")
    assert "Public API unreachable" in html
    # Its words ("api", "example", "com") apart from each other are not enough.
    assert "Sample data shipped" not in html


def test_word_forms_meet(logged_in, archive):
    assert "Thundering herd" in _titles(logged_in, "retry")


def test_no_match_says_so_not_that_the_archive_is_empty(logged_in, archive):
    html = _titles(logged_in, "kubernetes")
    assert "No reviews match “kubernetes”." in html
    assert "No reviews yet" not in html
    for review in archive.values():
        assert review.title not in html


def test_an_empty_archive_still_invites_a_first_review(logged_in):
    html = logged_in.get("/").content.decode()
    assert "No reviews yet" in html
    assert "No reviews match" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("zookeeper", {"Slow checkout"}),
        ("us-east-1", {"Regional outage"}),
        ("api.example.com", {"Public API unreachable"}),
        ("retry", {"Thundering herd"}),
        ("kubernetes", set()),
    ],
)
def test_the_api_q_filter_gives_the_same_matches(read_api, logged_in, archive, query, expected):
    assert _api_titles(read_api, query) == expected
    html = _titles(logged_in, query)
    for review in archive.values():
        assert (review.title in html) == (review.title in expected), review.title
