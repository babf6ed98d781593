"""Possible duplicates: the same incident imported or written up twice is flagged, and a
reviewer merges the pair (keeping both sources) or says it is not a duplicate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from duplicates.detection import (
    DUPLICATE_SIMILARITY,
    DUPLICATE_SIMILARITY_UNTIMED,
    flag_duplicates,
    is_possible_duplicate,
    text_similarity,
)
from duplicates.models import PossibleDuplicate
from duplicates.selectors import merged_away_ids, open_duplicates_of
from incidents.importers import import_folder
from incidents.models import Incident

from .conftest import token_client
from .factories import GroupFactory, UserFactory, review

pytestmark = pytest.mark.django_db

START = datetime(2024, 11, 19, 0, 51, tzinfo=UTC)
SUMMARY = (
    "A configuration change meant to speed up blob storage was deployed to every region at "
    "once; a bug in it made the storage front ends loop forever, and blob storage was "
    "unavailable for eleven hours."
)


def _day(hours: float) -> tuple[datetime, datetime]:
    return (START + timedelta(hours=hours), START + timedelta(hours=hours + 10))


# --- the rules ----------------------------------------------------------------------------


def test_same_organisation_overlapping_and_similar_is_a_possible_duplicate():
    flagged, reasons = is_possible_duplicate(
        organisation_a="Travis CI", organisation_b=" travisci ",
        window_a=_day(0), window_b=_day(2), similarity=0.8,
    )  # fmt: skip
    assert flagged
    assert reasons[0] == "same organisation: Travis CI"
    assert reasons[1].startswith("times overlap: 2024-11-19 02:51")
    assert reasons[-1] == "text similarity 0.80"


def test_different_organisations_are_never_duplicates_however_alike():
    flagged, reasons = is_possible_duplicate(
        organisation_a="Acme", organisation_b="Globex",
        window_a=_day(0), window_b=_day(0), similarity=1.0,
    )  # fmt: skip
    assert not flagged
    assert "different organisations" in reasons[0]


def test_two_blank_organisations_are_both_ours():
    flagged, reasons = is_possible_duplicate(
        organisation_a="", organisation_b="  ", window_a=_day(0), window_b=_day(1),
        similarity=0.9,
    )  # fmt: skip
    assert flagged
    assert reasons[0] == "same organisation: ours"


def test_times_that_do_not_overlap_rule_a_pair_out():
    flagged, reasons = is_possible_duplicate(
        organisation_a="Acme", organisation_b="Acme",
        window_a=_day(0), window_b=_day(24 * 30), similarity=0.99,
    )  # fmt: skip
    assert not flagged
    assert reasons[-1].startswith("times do not overlap")


def test_an_unknown_end_counts_as_a_day_and_an_unknown_start_asks_for_more_text():
    same = {"organisation_a": "Acme", "organisation_b": "Acme"}
    # Ends unknown: each lasts a day, so starts 20 hours apart overlap, 30 hours apart do not.
    assert is_possible_duplicate(
        **same, window_a=(START, None), window_b=(START + timedelta(hours=20), None), similarity=0.9
    )[0]
    assert not is_possible_duplicate(**same, window_a=(START, None),
                                     window_b=(START + timedelta(hours=30), None),
                                     similarity=0.9)[0]  # fmt: skip
    between = (DUPLICATE_SIMILARITY + DUPLICATE_SIMILARITY_UNTIMED) / 2
    flagged, reasons = is_possible_duplicate(
        **same, window_a=(None, None), window_b=_day(0), similarity=between
    )
    assert not flagged
    assert "cannot tell" in reasons[1]
    assert is_possible_duplicate(**same, window_a=_day(0), window_b=_day(1), similarity=between)[0]
    assert is_possible_duplicate(
        **same, window_a=(None, None), window_b=_day(0), similarity=DUPLICATE_SIMILARITY_UNTIMED
    )[0]


# --- flagging -----------------------------------------------------------------------------


def _copy(
    title: str, *, organisation: str = "Acme", hours: float = 0, summary: str = SUMMARY, **fields
) -> Incident:
    start, end = _day(hours)
    return review(title=title, organisation=organisation, started_at=start, resolved_at=end,
                  summary=summary, **fields)  # fmt: skip


def test_two_write_ups_of_one_outage_are_flagged_once_and_rerunning_adds_nothing():
    status_page = _copy("Storage service interruption", source_url="https://status.example.com/1")
    blog = _copy("Storage service interruption: our update", hours=1,
                 source_url="https://blog.example.com/storage")  # fmt: skip
    _copy("Storage service interruption", hours=24 * 60)  # the same words, two months later
    _copy("Storage service interruption", organisation="Globex")  # another organisation
    _copy("Login page slow", hours=1, summary="Sign-in took ten seconds after a cache expired.")

    pairs = flag_duplicates(blog)
    assert [(p.first_id, p.second_id) for p in pairs] == [(status_page.pk, blog.pk)]
    assert pairs[0].similarity >= DUPLICATE_SIMILARITY
    assert pairs[0].reasons[0] == "same organisation: Acme"
    assert text_similarity(status_page, blog) == pairs[0].similarity
    flag_duplicates(blog)
    flag_duplicates(status_page)
    assert PossibleDuplicate.objects.count() == 1
    assert open_duplicates_of(status_page.pk) == {blog.pk}
    assert open_duplicates_of(blog.pk) == {status_page.pk}


def test_a_dismissed_pair_is_never_flagged_again():
    a, b = _copy("Storage down"), _copy("Storage down again", hours=1)
    (pair,) = flag_duplicates(b)
    pair.status = PossibleDuplicate.Status.DISMISSED
    pair.save()
    assert flag_duplicates(a) == []
    assert flag_duplicates(b) == []
    assert PossibleDuplicate.objects.get().status == "dismissed"
    assert open_duplicates_of(a.pk) == set()


def test_the_analysis_flags_a_saved_review(save_review):
    first = save_review(title="Storage down", organisation="Acme", started_at=START,
                        summary=SUMMARY)  # fmt: skip
    second = save_review(title="Storage outage", organisation="acme", started_at=START,
                         summary=SUMMARY)  # fmt: skip
    pair = PossibleDuplicate.objects.get()
    assert (pair.first_id, pair.second_id) == (first.pk, second.pk)
    second.refresh_from_db()
    assert second.analysed_at is not None


def test_a_failure_in_flagging_never_fails_the_analysis(save_review, monkeypatch):
    import duplicates.detection

    def broken(incident):
        raise RuntimeError("flagging broke")

    monkeypatch.setattr(duplicates.detection, "flag_duplicates", broken)
    save_review(title="Storage down", started_at=START, summary=SUMMARY)
    incident = save_review(title="Storage outage", started_at=START, summary=SUMMARY)
    incident.refresh_from_db()
    assert incident.analysed_at is not None
    assert not PossibleDuplicate.objects.exists()  # the broken flagging did run


# --- import -------------------------------------------------------------------------------

POSTMORTEM = """---
uuid: {uuid}
url: {url}
title: {title}
company: Example Storage
summary: {summary}
start_time: 2022-06-01T10:00:00Z
end_time: 2022-06-01T13:00:00Z
---

{body}
"""


def test_the_import_report_and_command_list_the_possible_duplicates(tmp_path: Path):
    body = "Writes to the primary stalled while a replica was rebuilt from a snapshot."
    (tmp_path / "a-status.md").write_text(POSTMORTEM.format(
        uuid="aaaaaaaa-0000-4000-8000-000000000001", url="https://status.example.com/9",
        title="Database writes stalled", summary=SUMMARY, body=body))  # fmt: skip
    (tmp_path / "b-blog.md").write_text(POSTMORTEM.format(
        uuid="aaaaaaaa-0000-4000-8000-000000000002", url="https://blog.example.com/stall",
        title="What happened on June 1st", summary=SUMMARY, body=body))  # fmt: skip
    report = import_folder(tmp_path)
    assert report.created == 2
    ((name, line),) = report.possible_duplicates
    first = Incident.objects.get(external_id="aaaaaaaa-0000-4000-8000-000000000001")
    assert name == "b-blog.md"
    assert f"possible duplicate of #{first.pk} “Database writes stalled”" in line
    assert "same organisation: Example Storage" in line

    out = StringIO()
    call_command("import_postmortems", str(tmp_path), "--no-progress", stdout=out)
    assert "check   b-blog.md: possible duplicate of" in out.getvalue()
    assert PossibleDuplicate.objects.count() == 1


# --- the review page ----------------------------------------------------------------------


@pytest.fixture
def editor():
    user = UserFactory(username="editor")
    user.user_permissions.add(Permission.objects.get(codename="change_incident"))
    return user


@pytest.fixture
def pair():
    _copy("Storage service interruption", source_url="https://status.example.com/1")
    b = _copy("Storage interruption: our update", hours=1,
              source_url="https://blog.example.com/storage")  # fmt: skip
    (found,) = flag_duplicates(b)
    return found


def test_the_page_says_possible_duplicate_with_reasons_and_buttons_for_an_editor(
    client, editor, pair
):
    client.force_login(editor)
    page = client.get(f"/incidents/{pair.first_id}/").content.decode()
    assert "Possible duplicate of" in page
    assert f'href="/incidents/{pair.second_id}/">Storage interruption: our update</a>' in page
    assert "same organisation: Acme" in page
    assert "text similarity" in page
    assert f'action="/duplicates/{pair.pk}/merge/"' in page
    assert f'action="/duplicates/{pair.pk}/dismiss/"' in page
    assert "csrfmiddlewaretoken" in page


def test_a_reader_who_may_not_edit_both_sees_the_notice_without_buttons(client, pair):
    client.force_login(UserFactory(username="reader"))
    page = client.get(f"/incidents/{pair.first_id}/").content.decode()
    assert "Possible duplicate of" in page
    assert "/merge/" not in page
    assert "/dismiss/" not in page
    assert client.post(f"/duplicates/{pair.pk}/merge/", {"keep": pair.first_id}).status_code == 403
    assert client.post(f"/duplicates/{pair.pk}/dismiss/").status_code == 403
    assert PossibleDuplicate.objects.get().status == "open"


def test_merging_keeps_both_sources_and_the_copy_says_where_it_went(client, editor, pair):
    client.force_login(editor)
    response = client.post(
        f"/duplicates/{pair.pk}/merge/", {"keep": pair.second_id, "from": pair.first_id}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{pair.second_id}/"
    pair.refresh_from_db()
    assert (pair.status, pair.primary_id, pair.decided_by) == ("merged", pair.second_id, editor)
    assert set(merged_away_ids()) == {pair.first_id}

    kept = client.get(f"/incidents/{pair.second_id}/").content.decode()
    assert "https://blog.example.com/storage" in kept
    assert "https://status.example.com/1" in kept
    assert "Possible duplicate of" not in kept
    copy = client.get(f"/incidents/{pair.first_id}/")
    assert copy.status_code == 200  # still readable
    assert "Merged into" in copy.content.decode()
    assert f'href="/incidents/{pair.second_id}/"' in copy.content.decode()
    # The merged copy is not compared again.
    assert flag_duplicates(Incident.objects.get(pk=pair.first_id)) == []


def test_not_a_duplicate_removes_the_notice(client, editor, pair):
    client.force_login(editor)
    response = client.post(f"/duplicates/{pair.pk}/dismiss/", {"from": pair.second_id})
    assert response["Location"] == f"/incidents/{pair.second_id}/"
    assert (
        "Possible duplicate of" not in client.get(f"/incidents/{pair.first_id}/").content.decode()
    )
    assert PossibleDuplicate.objects.get().status == "dismissed"


# --- the API ------------------------------------------------------------------------------


def test_the_api_lists_filters_and_merges(editor, pair):
    api = token_client(editor, "write")
    rows = api.get("/api/v1/duplicates/").json()["results"]
    assert [(r["first"]["id"], r["second"]["id"], r["status"]) for r in rows] == [
        (pair.first_id, pair.second_id, "open")
    ]
    assert rows[0]["reasons"][0] == "same organisation: Acme"
    assert api.get("/api/v1/duplicates/?status=merged").json()["results"] == []
    assert api.get("/api/v1/duplicates/?status=").status_code == 400

    wrong = api.post(f"/api/v1/duplicates/{pair.pk}/merge/", {"keep": 999999}, format="json")
    assert wrong.status_code == 400
    assert "keep" in wrong.json()["error"]["fields"]
    merged = api.post(
        f"/api/v1/duplicates/{pair.pk}/merge/", {"keep": pair.first_id}, format="json"
    )
    assert merged.status_code == 200, merged.json()
    body = merged.json()
    assert (body["status"], body["primary"], body["merged_away"]) == (
        "merged", pair.first_id, pair.second_id)  # fmt: skip
    assert body["decided_by"] == "editor"
    again = api.post(f"/api/v1/duplicates/{pair.pk}/dismiss/", format="json")
    assert again.status_code == 409
    assert "already merged" in again.json()["error"]["message"]
    assert [r["id"] for r in api.get("/api/v1/duplicates/?status=merged").json()["results"]] == [
        pair.pk
    ]


def test_the_api_dismisses(editor, pair):
    api = token_client(editor, "write")
    response = api.post(f"/api/v1/duplicates/{pair.pk}/dismiss/", format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "dismissed"


def test_deciding_needs_the_right_to_edit_both_reviews(pair):
    reader = UserFactory(username="reader")
    api = token_client(reader, "write")
    response = api.post(f"/api/v1/duplicates/{pair.pk}/dismiss/", format="json")
    assert response.status_code == 403
    assert "may edit both reviews" in response.json()["error"]["message"]
    # The author of one review is not enough.
    Incident.objects.filter(pk=pair.first_id).update(created_by=reader)
    response = api.post(f"/api/v1/duplicates/{pair.pk}/merge/", {"keep": pair.first_id},
                        format="json")  # fmt: skip
    assert response.status_code == 403
    Incident.objects.filter(pk=pair.second_id).update(created_by=reader)
    assert api.post(f"/api/v1/duplicates/{pair.pk}/dismiss/", format="json").status_code == 200
    # A read token may list but never decide.
    assert token_client(reader, "read").get("/api/v1/duplicates/").status_code == 200


def test_a_pair_with_a_review_the_caller_may_not_see_does_not_exist_for_them(editor, pair):
    group = GroupFactory(name="security")
    Incident.objects.filter(pk=pair.second_id).update(restricted_to=group)
    api = token_client(editor, "write")
    assert api.get("/api/v1/duplicates/").json()["results"] == []
    assert api.get(f"/api/v1/duplicates/{pair.pk}/").status_code == 404
    for action, body in (("merge", {"keep": pair.first_id}), ("dismiss", {})):
        response = api.post(f"/api/v1/duplicates/{pair.pk}/{action}/", body, format="json")
        assert response.status_code == 404
        assert "Storage interruption" not in response.content.decode()
    assert PossibleDuplicate.objects.get().status == "open"
    editor.groups.add(group)
    assert len(api.get("/api/v1/duplicates/").json()["results"]) == 1


def test_the_list_query_count_does_not_grow_with_pairs(editor, django_assert_max_num_queries):
    for n in range(12):
        a = _copy(f"Outage {n}", hours=24 * 10 * n)
        b = _copy(f"Outage {n}, second source", hours=24 * 10 * n + 1)
        assert [(p.first_id, p.second_id) for p in flag_duplicates(b)] == [(a.pk, b.pk)]
    api = token_client(editor, "read")
    # token and its last-used stamp, the count, the page (reviews and decider joined)
    with django_assert_max_num_queries(6):
        response = api.get("/api/v1/duplicates/")
    assert len(response.json()["results"]) == 12


def test_an_outsider_never_sees_a_pair_with_a_restricted_review(client, editor, pair):
    group = GroupFactory(name="security")
    Incident.objects.filter(pk=pair.second_id).update(restricted_to=group)
    client.force_login(editor)
    page = client.get(f"/incidents/{pair.first_id}/").content.decode()
    assert "Possible duplicate of" not in page
    assert "Storage interruption: our update" not in page
    editor.groups.add(group)
    page = client.get(f"/incidents/{pair.first_id}/").content.decode()
    assert "Possible duplicate of" in page


def test_a_retried_merge_with_the_same_idempotency_key_answers_the_same(editor, pair):
    api = token_client(editor, "write")
    url, body = f"/api/v1/duplicates/{pair.pk}/merge/", {"keep": pair.first_id}
    first = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="merge-1")
    again = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="merge-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
