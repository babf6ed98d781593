"""Writing a review: revisions and restore, the workflow, comments, preview and assistance."""

import json

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import Incident, Revision, SuggestionDecision
from taxonomy.models import StructuralPattern

from .factories import GroupFactory, UserFactory
from .test_views import _form_data

pytestmark = pytest.mark.django_db


def _create(client, **overrides) -> Incident:
    response = client.post(reverse("incidents:create"), _form_data(**overrides))
    assert response.status_code == 302, response.content.decode()[:1000]
    return Incident.objects.latest("id")


def _edit(client, incident, **overrides):
    incident.refresh_from_db()
    data = _form_data(version=incident.version, **overrides)
    return client.post(reverse("incidents:edit", args=[incident.pk]), data)


def test_every_save_keeps_a_revision_with_the_whole_review(logged_in):
    incident = _create(logged_in)
    assert _edit(logged_in, incident, narrative="Second telling.").status_code == 302
    assert _edit(logged_in, incident, narrative="Third telling.").status_code == 302

    revisions = list(incident.revisions.order_by("version"))
    assert [r.version for r in revisions] == [1, 2, 3]
    assert revisions[1].snapshot["narrative"] == "Second telling."
    assert revisions[0].snapshot["patterns"][0]["slug"] == "buried-assumption"
    assert revisions[0].snapshot["timeline"][0]["why_reasonable"]

    html = logged_in.get(reverse("incidents:history", args=[incident.pk])).content.decode()
    assert "Restore version 1" in html


def test_diff_shows_what_changed_between_versions_escaped(logged_in):
    incident = _create(logged_in, narrative="The cache expired.")
    _edit(logged_in, incident, narrative="The cache <script>x()</script> expired early.")
    html = logged_in.get(
        reverse("incidents:diff", args=[incident.pk]), {"from": 1, "to": 2}
    ).content.decode()
    assert "Narrative" in html
    assert "The cache expired." in html
    assert "&lt;script&gt;x()&lt;/script&gt;" in html
    assert "<script>x()" not in html


def test_diff_of_a_missing_version_is_404_with_a_message(logged_in):
    incident = _create(logged_in)
    response = logged_in.get(reverse("incidents:diff", args=[incident.pk]), {"from": 7, "to": 1})
    assert response.status_code == 404
    assert b"no version 7" in response.content


def test_restore_brings_back_old_text_as_a_new_version(logged_in):
    incident = _create(logged_in, narrative="Original narrative.")
    _edit(logged_in, incident, narrative="Rewritten narrative.")
    response = logged_in.post(
        reverse("incidents:restore", args=[incident.pk, 1]), {"expected_version": 2}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.narrative == "Original narrative."
    assert incident.version == 3
    assert incident.revisions.get(version=3).note == "Restored version 1"
    # the rewritten text is still in history
    assert incident.revisions.get(version=2).snapshot["narrative"] == "Rewritten narrative."


def test_conflict_page_shows_what_changed_meanwhile(logged_in):
    incident = _create(logged_in)
    stale = incident.version
    _edit(logged_in, incident, title="Renamed by the first editor")
    data = _form_data(version=stale, narrative="My own narrative.")
    response = logged_in.post(reverse("incidents:edit", args=[incident.pk]), data)
    assert response.status_code == 409
    html = response.content.decode()
    assert "What changed meanwhile" in html
    assert "Renamed by the first editor" in html
    assert "My own narrative." in html


def test_publishing_says_which_sections_are_missing(logged_in, user, save_review):
    incident = save_review(title="Thin draft", summary="Only a summary.")
    incident.reviewers.add(user)  # a named reviewer may publish
    response = logged_in.post(reverse("incidents:publish", args=[incident.pk]), follow=True)
    html = response.content.decode()
    assert "Not published yet. Still missing:" in html
    assert "impact" in html
    assert "at least one contributing factor" in html
    incident.refresh_from_db()
    assert incident.status == "draft"


def test_a_complete_review_goes_through_review_to_published(logged_in):
    incident = _create(logged_in)
    reviewer = UserFactory(username="reviewer")
    response = logged_in.post(
        reverse("incidents:request_review", args=[incident.pk]), {"reviewers": [reviewer.pk]}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "in_review"
    assert list(incident.reviewers.all()) == [reviewer]

    logged_in.force_login(reviewer)
    logged_in.post(
        reverse("incidents:comment", args=[incident.pk]), {"body": "Add the **detection** gap."}
    )
    html = logged_in.get(incident.get_absolute_url()).content.decode()
    assert "<strong>detection</strong>" in html

    # Publishing waits for the reviewer's approval of the current version.
    logged_in.post(reverse("incidents:publish", args=[incident.pk]))
    incident.refresh_from_db()
    assert incident.status == "in_review"
    logged_in.post(reverse("reviewflow:approve", args=[incident.pk]), {"version": incident.version})
    logged_in.post(reverse("incidents:publish", args=[incident.pk]))
    incident.refresh_from_db()
    assert incident.status == "published"
    assert incident.revisions.filter(note="Published").exists()


def test_an_empty_comment_is_refused_with_a_message(logged_in, save_review):
    incident = save_review()
    response = logged_in.post(
        reverse("incidents:comment", args=[incident.pk]), {"body": "  "}, follow=True
    )
    assert "A comment needs some text." in response.content.decode()
    assert not incident.comments.exists()


def test_preview_uses_the_sanitising_renderer(logged_in):
    response = logged_in.post(
        reverse("incidents:preview"),
        json.dumps({"text": "**bold** <script>alert(1)</script>"}),
        content_type="application/json",
    )
    assert response.status_code == 200
    html = response.json()["html"]
    assert "<strong>bold</strong>" in html
    assert "<script" not in html


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({"text": 5})])
def test_preview_rejects_bad_input_with_400(logged_in, body):
    response = logged_in.post(reverse("incidents:preview"), body, content_type="application/json")
    assert response.status_code == 400


def test_assist_returns_hints_patterns_and_similar_incidents(logged_in, save_review):
    earlier = save_review(title="Config pushed everywhere", patterns=["fast-global-propagation"])
    pattern = StructuralPattern.objects.get(slug="fast-global-propagation")
    term = pattern.entry["match_terms"][0]
    response = logged_in.post(
        reverse("incidents:assist"),
        json.dumps(
            {"sections": {"narrative": f"The change was {term}. The engineer failed to check."}}
        ),
        content_type="application/json",
    )
    data = response.json()
    assert response.status_code == 200
    assert data["hints"]["narrative"]
    slugs = [p["slug"] for p in data["patterns"]]
    assert "fast-global-propagation" in slugs
    assert term in data["patterns"][slugs.index("fast-global-propagation")]["why"]
    assert [i["id"] for i in data["incidents"]] == [earlier.pk]


def test_assist_never_suggests_restricted_incidents_to_outsiders(logged_in, save_review):
    secret = save_review(title="Secret", patterns=["fast-global-propagation"])
    Incident.objects.filter(pk=secret.pk).update(restricted_to=GroupFactory())
    term = StructuralPattern.objects.get(slug="fast-global-propagation").entry["match_terms"][0]
    data = logged_in.post(
        reverse("incidents:assist"),
        json.dumps({"sections": {"summary": term}}),
        content_type="application/json",
    ).json()
    assert data["incidents"] == []


def test_rejected_suggestions_are_recorded_and_not_offered_again(logged_in, user, save_review):
    incident = save_review(title="Mine", by=user)
    term = StructuralPattern.objects.get(slug="retry-amplification").entry["match_terms"][0]
    response = logged_in.post(
        reverse("incidents:decide", args=[incident.pk]),
        {"decision": "rejected", "pattern": "retry-amplification"},
        HTTP_ACCEPT="application/json",
    )
    assert response.json() == {"ok": True}
    decision = SuggestionDecision.objects.get()
    assert (decision.decision, decision.pattern.slug) == ("rejected", "retry-amplification")
    data = logged_in.post(
        reverse("incidents:assist"),
        json.dumps({"sections": {"summary": term}, "incident": incident.pk}),
        content_type="application/json",
    ).json()
    assert "retry-amplification" not in [p["slug"] for p in data["patterns"]]


def test_accepting_a_pattern_without_the_browser_links_it(save_review, user):
    incident = save_review(title="Mine")
    pattern = StructuralPattern.objects.get(slug="alert-fatigue")
    services.suggestion_decide(
        incident=incident, by=user, decision="accepted", pattern=pattern, rationale="Pages ignored."
    )
    assert incident.pattern_links.get().rationale == "Pages ignored."
    incident.refresh_from_db()
    assert Revision.objects.filter(incident=incident, version=incident.version).exists()


def test_a_bad_decision_is_400(logged_in, user, save_review):
    incident = save_review(by=user)
    url = reverse("incidents:decide", args=[incident.pk])
    assert logged_in.post(url, {"decision": "maybe", "pattern": "alert-fatigue"}).status_code == 400
    assert logged_in.post(url, {"decision": "accepted", "pattern": "nope"}).status_code == 400
    assert logged_in.post(url, {"decision": "accepted"}).status_code == 400


def test_drafts_show_blameless_hints_but_saving_is_never_blocked(logged_in):
    incident = _create(logged_in, narrative="The root cause was human error.")
    html = logged_in.get(incident.get_absolute_url()).content.decode()
    assert "Blameless-language hints" in html
    assert "human error" in html


def test_editing_pages_have_bounded_query_counts(logged_in, django_assert_max_num_queries):
    incident = _create(logged_in)
    for _ in range(3):
        _edit(logged_in, incident, narrative=f"Edit {incident.version}.")
    with django_assert_max_num_queries(30):
        assert logged_in.get(reverse("incidents:edit", args=[incident.pk])).status_code == 200
    with django_assert_max_num_queries(30):
        assert logged_in.get(reverse("incidents:create")).status_code == 200
    # Each with the reader's permissions for the menu (2 queries).
    with django_assert_max_num_queries(10):
        assert logged_in.get(reverse("incidents:history", args=[incident.pk])).status_code == 200
    with django_assert_max_num_queries(10):
        assert logged_in.get(reverse("incidents:diff", args=[incident.pk])).status_code == 200
