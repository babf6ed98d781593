"""The API as a contract: writes, scopes, throttling, pagination, ETags, and no leaks."""

import json
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from incidents.models import ApiToken, Incident
from reports.models import Report
from reports.services import report_generate

from .conftest import token_client
from .factories import GroupFactory, UserFactory
from .test_api import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(write_api):
    body = {
        "title": "Config push pinned CPU",
        "summary": "Original summary.",
        "started_at": "2025-05-01T10:00:00Z",
        "patterns": [{"slug": "fast-global-propagation", "rationale": "Everywhere at once."}],
        "components": ["Edge"],
    }
    response = write_api.post("/api/v1/incidents/", body, format="json")
    assert response.status_code == 201
    return response.json()


def test_patch_changes_only_what_was_sent(write_api, incident):
    response = write_api.patch(
        f"/api/v1/incidents/{incident['id']}/", {"summary": "Better summary."}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["summary"] == "Better summary."
    assert body["title"] == "Config push pinned CPU"
    assert body["patterns"][0]["slug"] == "fast-global-propagation"
    assert body["components"] == ["Edge"]
    assert body["version"] == incident["version"] + 1


def test_the_number_of_users_affected_is_set_cleared_and_never_read_from_prose(write_api, incident):
    url = f"/api/v1/incidents/{incident['id']}/"
    body = write_api.patch(url, {"users_affected": "About 1,200 EU users"}, format="json").json()
    assert body["users_affected_count"] is None  # the words are not a number
    body = write_api.patch(url, {"users_affected_count": 1200}, format="json").json()
    assert body["users_affected_count"] == 1200
    assert body["users_affected"] == "About 1,200 EU users"
    body = write_api.patch(url, {"users_affected_count": None}, format="json").json()
    assert body["users_affected_count"] is None


def test_patch_with_a_stale_version_is_409_and_changes_nothing(write_api, incident):
    url = f"/api/v1/incidents/{incident['id']}/"
    write_api.patch(url, {"title": "First"}, format="json")
    response = write_api.patch(
        url, {"title": "Second", "version": incident["version"]}, format="json"
    )
    error = assert_error(response, 409, "conflict")
    assert "read it again" in error["message"]
    assert write_api.get(url).json()["title"] == "First"


def test_patch_with_a_stale_if_match_is_412(write_api, incident):
    url = f"/api/v1/incidents/{incident['id']}/"
    etag = write_api.get(url)["ETag"]
    write_api.patch(url, {"title": "First"}, format="json")
    response = write_api.patch(url, {"title": "Second"}, format="json", HTTP_IF_MATCH=etag)
    assert_error(response, 412, "precondition_failed")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sumary": "typo"}, "sumary"),
        ({"complexity": 9}, "complexity"),
        ({"patterns": [{"slug": "nope", "rationale": "x"}]}, "patterns[0].slug"),
        ({"status": "published"}, "status"),
        ({"users_affected_count": -5}, "users_affected_count"),
        ({"users_affected_count": "about a thousand"}, "users_affected_count"),
    ],
)
def test_bad_patches_are_400_naming_the_field(write_api, incident, body, field):
    response = write_api.patch(f"/api/v1/incidents/{incident['id']}/", body, format="json")
    error = assert_error(response, 400, "invalid")
    if field != "non_field_errors":
        assert field in error["fields"]


def test_read_token_cannot_patch_or_append(read_api, incident):
    url = f"/api/v1/incidents/{incident['id']}/"
    assert_error(read_api.patch(url, {"title": "x"}, format="json"), 403)
    assert_error(read_api.post(f"{url}timeline/", {"events": []}, format="json"), 403)


def test_appending_timeline_events_and_action_items(write_api, incident):
    url = f"/api/v1/incidents/{incident['id']}/"
    response = write_api.post(
        f"{url}timeline/",
        {"events": [
            {"occurred_at": "2025-05-01T10:07:00Z", "kind": "mitigation", "text": "Rolled back."},
            {"occurred_at": "2025-05-01T10:02:00Z", "kind": "detection", "text": "Paged."},
        ]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201
    assert [e["kind"] for e in response.json()["timeline"]] == ["detection", "mitigation"]
    response = write_api.post(
        f"{url}action-items/",
        {"action_items": [{"title": "Stage config rollout", "kind": "structural_fix",
                           "leverage_level": "delays"}]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201
    assert response.json()["action_items"][0]["leverage_level"] == "delays"
    stored = Incident.objects.get(pk=incident["id"])
    assert stored.revisions.count() == 3
    assert_error(write_api.post(f"{url}timeline/", {"events": []}, format="json"), 400)


def test_etag_and_conditional_get(read_api, write_api, incident):
    url = f"/api/v1/incidents/{incident['id']}/"
    first = read_api.get(url)
    etag = first["ETag"]
    assert etag
    assert read_api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    write_api.patch(url, {"title": "Changed"}, format="json")
    again = read_api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200
    assert again["ETag"] != etag
    pattern = read_api.get("/api/v1/patterns/alert-fatigue/")
    assert (
        read_api.get(
            "/api/v1/patterns/alert-fatigue/", HTTP_IF_NONE_MATCH=pattern["ETag"]
        ).status_code
        == 304
    )


def test_cursor_pagination_is_stable_while_incidents_are_added(read_api, save_review):
    for n in range(5):
        save_review(title=f"Old {n}")
    first = read_api.get("/api/v1/incidents/?page_size=2").json()
    assert [r["title"] for r in first["results"]] == ["Old 4", "Old 3"]
    for n in range(3):
        save_review(title=f"New {n}")
    second = read_api.get(first["next"]).json()
    third = read_api.get(second["next"]).json()
    seen = [r["title"] for r in first["results"] + second["results"] + third["results"]]
    assert seen == ["Old 4", "Old 3", "Old 2", "Old 1", "Old 0"]


def test_throttling_per_token_with_retry_after(user, settings):
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "3/min"}
    }  # fmt: skip
    busy, calm = token_client(user, "read"), token_client(user, "read")
    for _ in range(3):
        assert busy.get("/api/v1/shapes/").status_code == 200
    response = busy.get("/api/v1/shapes/")
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert calm.get("/api/v1/shapes/").status_code == 200  # its own budget
    cache.clear()


def test_components_endpoint_counts_only_visible_incidents(read_api, save_review):
    save_review(title="Open", components=["Object store"])
    secret = save_review(title="Secret", components=["Object store"])
    Incident.objects.filter(pk=secret.pk).update(restricted_to=GroupFactory())
    row = read_api.get("/api/v1/components/object-store/").json()
    assert row["incidents"] == 1
    assert read_api.get("/api/v1/components/?q=object").json()["results"][0]["slug"] == (
        "object-store"
    )


def test_token_commands_list_and_revoke(user):
    _, key = ApiToken.generate(name="chat", user=user, scope="read")
    out = StringIO()
    call_command("list_api_tokens", stdout=out)
    assert "chat" in out.getvalue()
    assert key not in out.getvalue()
    call_command("revoke_api_token", "chat", stdout=StringIO())
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert_error(api.get("/api/v1/incidents/"), 401)
    with pytest.raises(CommandError, match="No active token"):
        call_command("revoke_api_token", "chat", stdout=StringIO())


# --- the restricted-incident leak matrix ---------------------------------------------------

SECRET = "Credential vault leak"


@pytest.fixture
def secret(save_review):
    incident = save_review(
        title=SECRET,
        summary="Vault tokens were pushed to all servers globally within seconds.",
        shapes=["concentration"],
        patterns=["fast-global-propagation", "hidden-shared-dependency"],
        components=["Vault"],
        started_at=None,
        severity="sev1",
    )
    save_review(
        title="Open twin", summary="Config pushed to all servers globally within seconds.",
        patterns=["fast-global-propagation", "hidden-shared-dependency"], components=["Vault"],
    )  # fmt: skip
    Incident.objects.filter(pk=incident.pk).update(restricted_to=GroupFactory(name="security"))
    return incident


LIST_QUERIES = [
    "", "shape=concentration", "pattern=fast-global-propagation", "component=vault",
    "status=draft", "severity=sev1", "q=vault", "q=credential", "since=2000-01-01T00:00:00Z",
    "until=2100-01-01T00:00:00Z",
]  # fmt: skip


@pytest.mark.parametrize("query", LIST_QUERIES)
def test_no_list_filter_leaks_a_restricted_incident(read_api, secret, query):
    body = read_api.get(f"/api/v1/incidents/?{query}").content.decode()
    assert SECRET not in body
    assert f'"id":{secret.pk},' not in body.replace(" ", "")


def test_no_other_endpoint_leaks_a_restricted_incident(read_api, write_api, secret, user):
    url = f"/api/v1/incidents/{secret.pk}/"
    assert_error(read_api.get(url), 404)
    assert_error(read_api.get(f"{url}similar/"), 404)
    assert_error(write_api.patch(url, {"title": "x"}, format="json"), 404)
    assert_error(
        write_api.post(f"{url}timeline/", {"events": [
            {"occurred_at": "2025-01-01T00:00:00Z", "text": "x"}]}, format="json"),
        404,
    )  # fmt: skip
    # a 304 must not confirm a hidden incident exists
    assert read_api.get(url, HTTP_IF_NONE_MATCH="*").status_code == 404
    bodies = [
        read_api.post("/api/v1/similar/", {"text": f"{SECRET} vault tokens pushed to all servers"},
                      format="json").content.decode(),
        read_api.get("/api/v1/recurrences/").content.decode(),
        read_api.get("/api/v1/components/").content.decode(),
        read_api.get("/api/v1/patterns/fast-global-propagation/").content.decode(),
    ]  # fmt: skip
    for body in bodies:
        assert SECRET not in body
    # Only the restricted review makes the structure recur: for this reader it does not.
    assert json.loads(bodies[1])["results"] == []
    report = Report.objects.create(
        created_by=user, params={"since": "2000-01-01T00:00:00+00:00",
                                 "until": "2004-01-01T00:00:00+00:00"},
    )  # fmt: skip
    report_generate(report_id=report.pk)
    assert SECRET not in read_api.get(f"/api/v1/reports/{report.pk}/").content.decode()


def test_a_member_of_the_group_sees_it_everywhere(read_api, secret, user):
    user.groups.add(Incident.objects.get(pk=secret.pk).restricted_to)
    assert read_api.get(f"/api/v1/incidents/{secret.pk}/").status_code == 200
    assert SECRET in read_api.get("/api/v1/incidents/?q=credential").content.decode()
    other = token_client(UserFactory(), "read")
    assert_error(other.get(f"/api/v1/incidents/{secret.pk}/"), 404)


def test_an_over_long_url_is_414_in_the_error_shape(read_api, settings):
    settings.SEAMS_MAX_URI_LENGTH = 200
    response = read_api.get("/api/v1/patterns/", {"shape": "x" * 300})
    error = assert_error(response, 414, "uri_too_long")
    assert "at most 200" in error["message"]
    # just under the limit the request is answered as usual
    assert read_api.get("/api/v1/patterns/", {"shape": "cascade"}).status_code == 200


def test_an_over_long_page_url_is_414_in_plain_text(client, settings):
    settings.SEAMS_MAX_URI_LENGTH = 100
    response = client.get("/patterns/", {"q": "y" * 200})
    assert response.status_code == 414
    assert "Seams accepts at most 100" in response.content.decode()


def test_every_operation_documents_the_414(read_api):
    schema = read_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "responses" in op
    ]
    assert len(operations) >= 20
    for path, method, op in operations:
        content = op["responses"]["414"]["content"]["application/json"]
        assert content["schema"]["$ref"] == "#/components/schemas/Error", (path, method)


def test_request_bodies_that_refuse_unknown_fields_say_so_in_the_schema(write_api):
    schema = write_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    for name in ("IncidentCreateRequest", "PatchedIncidentPatchRequest", "TimelineEventInRequest"):
        assert components[name]["additionalProperties"] is False, name
    response = write_api.post("/api/v1/incidents/", {"title": "T", "sumary": "typo"}, format="json")
    assert "sumary" in assert_error(response, 400, "invalid")["fields"]


def _parameter(schema: dict, path: str, name: str) -> dict:
    operation = schema["paths"][path]["get"]
    return next(p for p in operation["parameters"] if p["name"] == name)


def test_schema_states_the_bounds_the_api_enforces(read_api):
    """What the API refuses, the schema says: catalogue slugs, page sizes, limits."""
    schema = read_api.get("/api/schema/?format=json", HTTP_ACCEPT="application/json").json()
    shape = _parameter(schema, "/api/v1/incidents/", "shape")["schema"]
    assert shape["enum"] == sorted(["cascade", "concentration", "worst-case-interaction",
                                    "recurrence"])  # fmt: skip
    pattern = _parameter(schema, "/api/v1/incidents/", "pattern")["schema"]
    assert "fast-global-propagation" in pattern["enum"]
    page_size = _parameter(schema, "/api/v1/incidents/", "page_size")["schema"]
    assert (page_size["minimum"], page_size["maximum"]) == (1, 200)
    limit = _parameter(schema, "/api/v1/incidents/{id}/similar/", "limit")["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 50)
    similar = schema["components"]["schemas"]["SimilarRequestRequest"]
    assert similar.get("additionalProperties") is False


# --- what the schema states, so that a generated client (and the contract run) agrees -------


def _schema(api) -> dict:
    return api.get("/api/schema/?format=json", HTTP_ACCEPT="application/json").json()


def test_schema_states_that_control_characters_in_the_url_answer_400(read_api):
    """The request guard refuses control characters before any view: every operation
    documents the 400, and every free-text path or query string forbids them."""
    import re

    schema = _schema(read_api)
    free_text = 0
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            assert "400" in operation["responses"], (method, path)
            for parameter in operation.get("parameters", []):
                spec = parameter["schema"]
                if parameter["in"] not in ("path", "query") or spec.get("type") != "string":
                    continue
                if "enum" in spec or "format" in spec:
                    continue
                free_text += 1
                pattern = re.compile(spec["pattern"])
                assert pattern.search("waf-managed-rules\tand more"), (path, parameter["name"])
                assert not pattern.search("waf\x00rules"), (path, parameter["name"])
                assert not pattern.search("waf\x7f"), (path, parameter["name"])
    assert free_text >= 5  # q, cursor, component, the slugs in paths
    response = read_api.get("/api/v1/components/", {"q": "waf\x00"})
    assert_error(response, 400, "bad_request")


def test_schema_states_catalogue_slugs_list_sizes_and_json_bodies(read_api):
    schema = _schema(read_api)
    components = schema["components"]["schemas"]
    assert components["TimelineAppendRequest"]["properties"]["events"]["minItems"] == 1
    assert components["ActionItemsAppendRequest"]["properties"]["action_items"]["minItems"] == 1

    def enum(prop: dict) -> list:  # an enum in a body is a named component, maybe nullable
        refs = [prop, *prop.get("oneOf", []), *prop.get("allOf", [])]
        for ref in refs:
            if "$ref" in ref:
                return components[ref["$ref"].rsplit("/", 1)[1]]["enum"]
        return prop["enum"]

    item = components["ActionItemInRequest"]["properties"]
    assert "paradigms" in enum(item["leverage_level"])
    assert "fast-global-propagation" in enum(item["pattern"])
    report = components["ReportRequestRequest"]["properties"]
    assert "cascade" in enum(report["shape"])
    assert "fast-global-propagation" in enum(report["pattern"])
    assert "cascade" in enum(components["IncidentCreateRequest"]["properties"]["shapes"]["items"])
    assert "cascade" in _parameter(schema, "/api/v1/patterns/", "shape")["schema"]["enum"]
    recurrence = _parameter(schema, "/api/v1/recurrences/", "pattern")["schema"]
    assert "fast-global-propagation" in recurrence["enum"]
    assert _parameter(schema, "/api/v1/incidents/", "page")["schema"]["minimum"] == 1
    # Bodies are JSON: a form encoding cannot tell a list from a string. The exception
    # uploads a file (the timeline import's Slack export), which only multipart carries.
    uploads = {"/api/v1/incidents/{id}/timeline/import/"}
    for path, item in schema["paths"].items():
        for operation in item.values():
            if "requestBody" in operation:
                json_only = ["application/json"]
                expected = ["multipart/form-data", *json_only] if path in uploads else json_only
                assert list(operation["requestBody"]["content"]) == expected, path


def test_a_component_that_matches_nothing_filters_to_an_empty_list(read_api, save_review, user):
    """An unknown component and one only a restricted review uses answer the same: 200 with
    no incidents (the schema cannot list components, so neither is a bad request)."""
    save_review(title="Edge outage", components=["Edge"])
    group = GroupFactory()
    save_review(title="Vault leak", components=["Secret vault"], restricted_to=group)
    listed = read_api.get("/api/v1/incidents/", {"component": "edge"})
    assert [r["title"] for r in listed.json()["results"]] == ["Edge outage"]
    unknown = read_api.get("/api/v1/incidents/", {"component": "no-such-component"})
    hidden = read_api.get("/api/v1/incidents/", {"component": "secret-vault"})
    assert unknown.status_code == hidden.status_code == 200
    assert unknown.json() == hidden.json() == {"next": None, "previous": None, "results": []}
    user.groups.add(group)
    member = read_api.get("/api/v1/incidents/", {"component": "secret-vault"})
    assert [r["title"] for r in member.json()["results"]] == ["Vault leak"]


def test_a_page_that_is_not_a_number_is_refused(read_api, save_review):
    save_review(title="Grid brownout")
    for query in ({"page": "null"}, {"q": "grid", "page": "null"}):
        error = assert_error(read_api.get("/api/v1/incidents/", query), 400, "invalid")
        assert "page" in error["fields"]


def test_a_post_to_an_unknown_api_path_is_a_json_404_not_a_csrf_page(user):
    _, key = ApiToken.generate(name="csrf", user=user, scope="write")
    api = APIClient(enforce_csrf_checks=True)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api.post("/api/v1/incidents/1.5/timeline/", {"events": []}, format="json")
    assert_error(response, 404, "not_found")


def test_a_number_where_text_is_expected_is_refused(write_api):
    """DRF turned 42 into "42": the schema says string, so a number is a client's bug."""
    response = write_api.post("/api/v1/similar/", {"text": -8.9e291}, format="json")
    assert "text" in assert_error(response, 400, "invalid")["fields"]
    response = write_api.post(
        "/api/v1/incidents/", {"title": "Edge", "components": ["Edge", 7]}, format="json"
    )
    assert "components" in assert_error(response, 400, "invalid")["fields"]
    assert not Incident.objects.exists()


def test_an_empty_page_number_is_refused_on_every_list(read_api):
    for url in ("/api/v1/incidents/", "/api/v1/reports/", "/api/v1/patterns/"):
        assert_error(read_api.get(url, {"page": ""}), 400, "invalid")
    assert_error(read_api.get("/api/v1/incidents/", {"page": "0"}), 404, "not_found")


def test_an_empty_boolean_filter_is_refused(read_api):
    error = assert_error(read_api.get("/api/v1/recurrences/", {"despite_remediation": ""}), 400)
    assert "despite_remediation" in error["fields"]


def _typed_query_parameters(schema: dict):
    """(path, name) of every GET query parameter whose schema says more than free text."""
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if not get or "{" in path:
            continue
        for parameter in get.get("parameters", []):
            typed = parameter["schema"].get("type") in {"integer", "boolean", "number"}
            if parameter["in"] == "query" and (
                typed or {"enum", "format"} & set(parameter["schema"])
            ):
                yield path, parameter["name"]


def test_an_empty_value_for_a_typed_query_parameter_is_400_naming_it(user, read_api):
    """`?pattern=` is not a pattern, `?since=` not a date-time, `?page_size=` not a number:
    each typed parameter of every list, left empty, is refused rather than ignored."""
    from people.roles import set_role

    set_role(user, "admin")  # so that the admins' lists (people) answer too, not 403
    schema = _schema(read_api)
    checked = []
    for path, name in _typed_query_parameters(schema):
        response = read_api.get(f"{path}?{name}=")
        assert response.status_code == 400, (path, name, response.status_code)
        assert name in json.dumps(response.json()["error"]), (path, name)
        checked.append((path, name))
    assert ("/api/v1/recurrences/", "pattern") in checked
    assert ("/api/v1/incidents/", "since") in checked


@pytest.mark.parametrize("shapes", [{}, {"cascade": 1}, "cascade"])
def test_a_list_of_slugs_sent_as_anything_but_a_list_is_400(write_api, incident, shapes):
    """`{}` passed as an empty list before (and a dict's keys as slugs): the schema says array."""
    response = write_api.patch(
        f"/api/v1/incidents/{incident['id']}/", {"shapes": shapes}, format="json"
    )
    error = assert_error(response, 400, "invalid")
    assert "shapes" in error["fields"]


def test_schema_states_that_request_text_may_not_hold_nul(read_api):
    """The serializers refuse NUL in any text (PostgreSQL cannot store it); every free-text
    string of every request body says so with a pattern."""
    import re

    from incidents.api.schema import NO_NUL, NOT_BLANK

    def strings(schema, where):
        if schema.get("type") == "string" and not {"enum", "format"} & set(schema):
            yield where, schema
        for name, child in schema.get("properties", {}).items():
            yield from strings(child, f"{where}.{name}")
        if isinstance(schema.get("items"), dict):
            yield from strings(schema["items"], f"{where}[]")

    found = 0
    for name, schema in _schema(read_api)["components"]["schemas"].items():
        if not name.endswith("Request"):
            continue
        for where, text in strings(schema, name):
            found += 1
            assert "pattern" in text, where
            assert not re.fullmatch(text["pattern"], "a\x00b"), where
            if text["pattern"] in (NO_NUL, NOT_BLANK):  # free text (not a slug)
                assert re.fullmatch(text["pattern"], " two\nlines\tand a tab "), where
            if text.get("minLength", 0) >= 1:  # required: more than whitespace
                for blank in (" ", "\x1d", "\u3000\t\u0085"):
                    assert not re.fullmatch(text["pattern"], blank), (where, blank)
    assert found > 20


@pytest.mark.parametrize("blank", [" ", "\x1d", "\u3000\t\u0085"])
def test_text_that_is_only_whitespace_is_refused_as_the_schema_says(write_api, incident, blank):
    """Python's whitespace (what DRF trims) includes U+001C–U+001F and U+0085; the schema's
    pattern lists exactly those characters, so the two agree on what is blank."""
    response = write_api.patch(
        f"/api/v1/incidents/{incident['id']}/", {"title": blank}, format="json"
    )
    error = assert_error(response, 400, "invalid")
    assert "title" in error["fields"]
