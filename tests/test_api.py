"""The v1 API as a bot sees it: authentication, scopes, the error shape, filters, creation."""

import datetime as dt
import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from rest_framework.test import APIClient

from incidents.models import Incident, RecurringStructure

from .factories import GroupFactory

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str | None = None) -> dict:
    """Every API error has the one shape: {"error": {status, code, message[, fields]}}."""
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["status"] == status
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


def test_no_token_is_401_with_the_error_shape_and_a_challenge():
    response = APIClient().get("/api/v1/incidents/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_a_wrong_token_is_401():
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    assert_error(api.get("/api/v1/incidents/"), 401, "authentication_failed")


def test_a_revoked_token_is_401(user):
    from django.utils import timezone

    from incidents.models import ApiToken

    token, key = ApiToken.generate(name="old", user=user, scope="read")
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert_error(api.get("/api/v1/incidents/"), 401)


def test_read_token_cannot_create(read_api):
    response = read_api.post("/api/v1/incidents/", {"title": "x"}, format="json")
    error = assert_error(response, 403, "permission_denied")
    assert "write token" in error["message"]
    assert not Incident.objects.exists()


def test_bad_json_is_400(write_api):
    response = write_api.post(
        "/api/v1/incidents/", data='{"title": "broken', content_type="application/json"
    )
    error = assert_error(response, 400, "parse_error")
    assert "JSON" in error["message"]


def test_unknown_pattern_slug_is_400_naming_the_slug(write_api):
    response = write_api.post(
        "/api/v1/incidents/",
        {"title": "x", "patterns": [{"slug": "no-such-pattern", "rationale": "because"}]},
        format="json",
    )
    error = assert_error(response, 400, "invalid")
    assert "no-such-pattern" in error["fields"]["patterns[0].slug"][0]
    assert "/api/v1/patterns/" in error["fields"]["patterns[0].slug"][0]
    assert not Incident.objects.exists()


def test_missing_title_and_oversized_section_are_400(write_api, settings):
    response = write_api.post(
        "/api/v1/incidents/",
        {"summary": "x" * (settings.SEAMS_MAX_SECTION_CHARS + 1)},
        format="json",
    )
    error = assert_error(response, 400, "invalid")
    assert "title" in error["fields"]
    assert "summary" in error["fields"]


def test_unknown_endpoint_is_404_in_the_error_shape(read_api):
    assert_error(read_api.get("/api/v1/nothing-here/"), 404, "not_found")


def test_write_token_creates_a_draft_that_is_analysed(
    write_api, save_review, django_capture_on_commit_callbacks
):
    earlier = save_review(
        title="2019: regex pinned every edge CPU",
        patterns=["fast-global-propagation"],
        components=["WAF rules"],
        started_at=dt.datetime(2019, 7, 2, tzinfo=dt.UTC),
    )
    # Reviewed the week after, long before the new incident began.
    Incident.objects.filter(pk=earlier.pk).update(created_at=dt.datetime(2019, 7, 9, tzinfo=dt.UTC))
    body = {
        "title": "Feature file doubled and the proxy panicked",
        "severity": "sev1",
        "started_at": "2025-11-18T11:05:00Z",
        "summary": "Bot scoring failed *everywhere* within minutes.",
        "shapes": ["worst-case-interaction", "concentration"],
        "patterns": [
            {"slug": "fast-global-propagation", "rationale": "Pushed to every server at once."}
        ],
        "components": ["Feature file pipeline", "Core proxy"],
        "timeline": [
            {"occurred_at": "2025-11-18T11:05:00Z", "kind": "trigger", "text": "Grant applied."}
        ],
        "contributing_factors": ["The query assumed one database.", "A limit of 200."],
        "action_items": [
            {"title": "Fall back to the last good file", "kind": "structural_fix",
             "leverage_level": "rules", "pattern": "fast-global-propagation"}
        ],
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = write_api.post("/api/v1/incidents/", body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "draft"
    assert response["Location"].endswith(f"/api/v1/incidents/{data['id']}/")
    assert data["shapes"] == ["worst-case-interaction", "concentration"] or set(data["shapes"]) == {
        "worst-case-interaction",
        "concentration",
    }
    assert data["patterns"][0]["slug"] == "fast-global-propagation"
    assert sorted(data["components"]) == ["Core proxy", "Feature file pipeline"]
    assert data["timeline"][0]["kind"] == "trigger"
    assert data["contributing_factors"] == ["The query assumed one database.", "A limit of 200."]
    assert data["action_items"][0]["leverage_level"] == "rules"

    recurrences = write_api.get("/api/v1/recurrences/").json()["results"]
    assert len(recurrences) == 1
    assert recurrences[0]["pattern"] == "fast-global-propagation"
    assert {i["id"] for i in recurrences[0]["incidents"]} == {earlier.pk, data["id"]}
    assert recurrences[0]["components"] == ["Core proxy", "Feature file pipeline", "WAF rules"]


@pytest.fixture
def catalogue_of_incidents(save_review):
    return {
        "waf": save_review(
            title="WAF",
            shapes=["worst-case-interaction"],
            patterns=["untested-input-regime"],
            components=["WAF rules"],
        ),
        "grid": save_review(
            title="Grid",
            shapes=["cascade"],
            patterns=["tight-coupling-cascade"],
            components=["Alarm processor"],
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("shape=cascade", {"Grid"}),
        ("pattern=untested-input-regime", {"WAF"}),
        ("component=alarm-processor", {"Grid"}),
        ("status=published", set()),
        ("status=draft", {"WAF", "Grid"}),
        ("q=grid", {"Grid"}),
    ],
)
def test_list_filters(read_api, catalogue_of_incidents, query, expected):
    response = read_api.get(f"/api/v1/incidents/?{query}")
    assert response.status_code == 200
    assert {row["title"] for row in response.json()["results"]} == expected


def test_unknown_filter_value_is_400_not_an_empty_list(read_api, catalogue_of_incidents):
    error = assert_error(read_api.get("/api/v1/incidents/?pattern=nope"), 400, "invalid")
    assert "pattern" in error["fields"]


def test_restricted_incidents_are_invisible_outside_their_group(read_api, save_review, user):
    security = GroupFactory(name="security")
    secret = save_review(title="Credential leak", patterns=["buried-assumption"])
    Incident.objects.filter(pk=secret.pk).update(restricted_to=security)
    save_review(title="Open one", patterns=["buried-assumption"])

    titles = {r["title"] for r in read_api.get("/api/v1/incidents/").json()["results"]}
    assert titles == {"Open one"}
    assert_error(read_api.get(f"/api/v1/incidents/{secret.pk}/"), 404)
    # The structure exists, but recurs only through the restricted review: an outsider
    # does not see it recur, so it is not listed (nor counted).
    assert RecurringStructure.objects.count() == 1
    assert read_api.get("/api/v1/recurrences/").json()["results"] == []

    user.groups.add(security)
    titles = {r["title"] for r in read_api.get("/api/v1/incidents/").json()["results"]}
    assert titles == {"Open one", "Credential leak"}
    (structure,) = read_api.get("/api/v1/recurrences/").json()["results"]
    assert structure["incident_count"] == 2
    assert structure["hidden_incidents"] == 0
    assert {i["title"] for i in structure["incidents"]} == {"Open one", "Credential leak"}


def test_patterns_and_shapes_endpoints(read_api):
    patterns = read_api.get("/api/v1/patterns/").json()
    assert patterns["count"] >= 22
    one = read_api.get("/api/v1/patterns/fast-global-propagation/").json()
    assert one["name"]
    assert isinstance(one["aliases"], list)
    shapes = read_api.get("/api/v1/shapes/").json()
    assert [s["slug"] for s in shapes] == [
        "cascade", "concentration", "worst-case-interaction", "recurrence",
    ]  # fmt: skip
    assert_error(read_api.get("/api/v1/patterns/not-a-pattern/"), 404)


def test_list_query_count_does_not_grow_with_incidents(
    read_api, save_review, django_assert_max_num_queries
):
    for n in range(15):
        save_review(
            title=f"I{n}",
            shapes=["cascade"],
            patterns=["slack-erosion", "alert-fatigue"],
            components=[f"C{n}", "Shared"],
        )
    # token (and its last-used stamp), the page, then one query per kind of child row
    with django_assert_max_num_queries(7):
        response = read_api.get("/api/v1/incidents/")
    assert len(response.json()["results"]) == 15


def test_search_page_query_count_does_not_grow_with_matches(
    read_api, save_review, django_assert_max_num_queries
):
    for n in range(15):
        save_review(title=f"Grid event {n}", patterns=["slack-erosion"], components=[f"C{n}"])
    # token (and its stamp), the ranked ids, the page's columns, one query per kind of child
    with django_assert_max_num_queries(8):
        response = read_api.get("/api/v1/incidents/?q=grid")
    assert len(response.json()["results"]) == 15


def test_ranked_ids_are_read_back_in_rank_order_and_only_if_still_visible(save_review, user):
    from incidents.api.rows import list_values_in_order

    first, second, third = (save_review(title=t) for t in ("One", "Two", "Three"))
    visible = Incident.objects.visible_to(user)
    ids = [third.pk, first.pk, second.pk]
    assert [r["title"] for r in list_values_in_order(ids, visible)] == ["Three", "One", "Two"]
    # Restricted or deleted between ranking and reading: left out, never shown.
    Incident.objects.filter(pk=first.pk).update(restricted_to=GroupFactory(name="security"))
    Incident.objects.filter(pk=second.pk).delete()
    assert [r["title"] for r in list_values_in_order(ids, visible)] == ["Three"]


def test_list_rows_are_exactly_what_the_documented_serializer_gives(read_api, save_review):
    import datetime as dt
    from datetime import date, timedelta

    from django.utils import timezone

    from incidents.api.serializers import IncidentSerializer
    from incidents.models import ActionItem
    from taxonomy.models import LeverageLevel, StructuralPattern

    first = save_review(
        title="Two shapes",
        shapes=["cascade", "concentration"],
        patterns=["slack-erosion", "alert-fatigue"],
        components=["Zeta", "Alpha"],
        resolved_at=timezone.now() + timedelta(hours=2),
        external_id="ext-1",
        source_url="https://example.org/pm/1",
    )
    save_review(title="Bare", started_at=dt.datetime(2025, 1, 2, 3, 4, 5, 120000, tzinfo=dt.UTC))
    save_review(title="Whole second", started_at=dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    ActionItem.objects.create(
        incident=first, title="Raise the cap", owner="ana", status="done",
        due=date(2025, 5, 1), completed_at=timezone.now(), kind="component_patch",
        leverage_level=LeverageLevel.objects.get(slug="rules"),
        pattern=StructuralPattern.objects.get(slug="slack-erosion"),
    )  # fmt: skip
    ActionItem.objects.create(incident=first, title="Second", kind="structural_fix")
    response = read_api.get("/api/v1/incidents/")
    rows = response.json()["results"]
    expected = IncidentSerializer(
        Incident.objects.filter(pk__in=[r["id"] for r in rows]).order_by("-id"),
        many=True,
        context={"request": response.wsgi_request},
    ).data
    assert rows == json.loads(json.dumps(expected, cls=DjangoJSONEncoder))
    assert [list(r) for r in rows] == [list(e) for e in expected]  # same keys, same order
    two = next(r for r in rows if r["title"] == "Two shapes")
    assert two["shapes"] == ["cascade", "concentration"]
    assert [a["title"] for a in two["action_items"]] == ["Raise the cap", "Second"]


def test_detail_query_count(read_api, save_review, django_assert_max_num_queries):
    incident = save_review(title="One", patterns=["slack-erosion"], components=["A", "B"])
    with django_assert_max_num_queries(12):
        response = read_api.get(f"/api/v1/incidents/{incident.pk}/")
    assert response.json()["title"] == "One"


def test_recurrences_query_count(read_api, save_review, django_assert_max_num_queries):
    for n in range(6):
        save_review(
            title=f"R{n}", patterns=["retry-amplification", "alert-fatigue"], components=[f"C{n}"]
        )
    with django_assert_max_num_queries(10):
        response = read_api.get("/api/v1/recurrences/")
    # each pattern alone; the two together are no structure of their own (always together,
    # so the pair's incidents are each part's)
    assert sorted(r["signature"] for r in response.json()["results"]) == [
        "pattern:alert-fatigue",
        "pattern:retry-amplification",
    ]


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    spec = schema.json()
    assert spec["openapi"].startswith("3.")
    for path in ["/api/v1/incidents/", "/api/v1/incidents/{id}/", "/api/v1/patterns/",
                 "/api/v1/shapes/", "/api/v1/recurrences/"]:  # fmt: skip
        assert path in spec["paths"], path
    assert "Error" in spec["components"]["schemas"]
    assert client.get("/api/docs/").status_code == 200


def test_ranked_search_pages_by_number_without_counting(read_api, save_review):
    for n in range(3):
        save_review(title=f"Grid brownout {n}")
    save_review(title="Unrelated")
    first = read_api.get("/api/v1/incidents/", {"q": "grid", "page_size": 2}).json()
    assert len(first["results"]) == 2
    assert "count" not in first
    assert first["previous"] is None
    assert "page=2" in first["next"]
    second = read_api.get(first["next"]).json()
    assert len(second["results"]) == 1
    assert second["next"] is None
    assert "page=" not in second["previous"]  # back to the first page
    seen = {r["title"] for r in first["results"] + second["results"]}
    assert seen == {"Grid brownout 0", "Grid brownout 1", "Grid brownout 2"}
    for page in ("3", "0", "5001", str(10**20)):
        response = read_api.get("/api/v1/incidents/", {"q": "grid", "page_size": 2, "page": page})
        assert_error(response, 404, "not_found")
    response = read_api.get("/api/v1/incidents/", {"q": "grid", "page": "abc"})
    assert_error(response, 400, "invalid")  # not a page number at all


def test_a_pattern_added_after_earlier_requests_can_be_filtered_on(read_api, save_review):
    # The filter form class is built once per process; its choices must not be.
    assert read_api.get("/api/v1/incidents/", {"pattern": "slack-erosion"}).status_code == 200
    from taxonomy.models import StructuralPattern

    StructuralPattern.objects.create(slug="late-addition", name="Late addition", entry={})
    save_review(title="Uses it", patterns=["late-addition"])
    response = read_api.get("/api/v1/incidents/", {"pattern": "late-addition"})
    assert [r["title"] for r in response.json()["results"]] == ["Uses it"]


def test_an_empty_patch_changes_nothing_and_still_reports_a_stale_version(
    write_api, save_review, user
):
    """`{}` (or `version` alone) is a valid merge patch that changes nothing: 200 with the
    review, no new version or revision; a stale version is still answered 409."""
    writer_client = write_api
    incident = save_review(title="Kept as it is", shapes=["cascade"], by=user)
    url = f"/api/v1/incidents/{incident.pk}/"
    revisions = incident.revisions.count()

    empty = writer_client.patch(url, {}, format="json")
    current = writer_client.patch(url, {"version": incident.version}, format="json")
    cleared = writer_client.patch(url, {"shapes": []}, format="json")
    stale = writer_client.patch(url, {"version": incident.version}, format="json")

    assert empty.status_code == 200, empty.content
    assert empty.json()["version"] == incident.version
    assert current.status_code == 200
    assert current.json()["version"] == incident.version
    assert cleared.status_code == 200
    assert cleared.json()["shapes"] == []  # an empty list is a change, not an empty patch
    assert cleared.json()["version"] == incident.version + 1
    assert_error(stale, 409, "conflict")
    assert incident.revisions.count() == revisions + 1  # only the real change made one
