"""The catalogue as readers and bots see it: pages, endpoints, and their query counts."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from incidents.models import Incident
from taxonomy.models import StructuralPattern

from .factories import GroupFactory

pytestmark = pytest.mark.django_db


def test_catalogue_page_groups_by_shape_and_lists_every_pattern(logged_in):
    html = logged_in.get("/patterns/").content.decode()
    for pattern in StructuralPattern.objects.all():
        assert pattern.name in html
    for heading in ["Cascade", "Concentration", "Worst-case interaction", "Recurrence"]:
        assert heading in html
    assert 'id="shape-cascade"' in html


def test_catalogue_search_finds_patterns_by_alias(logged_in):
    pattern = StructuralPattern.objects.get(slug="slack-erosion")
    alias = pattern.aliases[0]
    html = logged_in.get("/patterns/", {"q": alias.upper()}).content.decode()
    assert pattern.name in html
    assert StructuralPattern.objects.get(slug="alert-fatigue").name not in html


def test_catalogue_filters_by_shape(logged_in):
    html = logged_in.get("/patterns/", {"shape": "cascade"}).content.decode()
    cascade = StructuralPattern.objects.filter(typical_shapes__slug="cascade")
    others = StructuralPattern.objects.exclude(typical_shapes__slug="cascade")
    assert all(p.name in html for p in cascade)
    assert not any(f">{p.name}</a>" in html for p in others)


def test_pattern_page_shows_every_section_and_relations(logged_in):
    pattern = StructuralPattern.objects.get(slug="fast-global-propagation")
    html = logged_in.get(pattern.get_absolute_url()).content.decode()
    entry = pattern.entry
    for text in [
        pattern.definition.split()[0],
        entry["why_it_looks_healthy"][0],
        entry["unfolds"]["escalates"],
        entry["warning_signs"]["early"][0],
        entry["warning_signs"]["late"][-1],
        entry["response"]["first_move"],
        entry["response"]["structural_fixes"][0],
        entry["notes_from_practice"]["counter_move"],
        entry["phrases"][0]["text"],
        entry["evidence"][0]["note"],
    ]:
        assert text.replace("'", "&#x27;").replace('"', "&quot;") in html, text
    for relation in pattern.relations_out.all():
        assert relation.target.name in html


def test_demo_pattern_page_shows_both_cloudflare_incidents_and_their_components(client):
    call_command("load_demo", stdout=StringIO())
    client.login(username="demo", password="seams-demo")
    html = client.get("/patterns/fast-global-propagation/").content.decode()
    for key in ["cloudflare-waf-2019", "cloudflare-bot-management-2025"]:
        incident = Incident.objects.get(external_id=f"demo:{key}")
        assert incident.title.replace("'", "&#x27;") in html
        for component in incident.components.all():
            assert component.name in html
    assert "Buried assumption" in html  # a related pattern


def test_pattern_page_hides_restricted_incidents(logged_in, save_review):
    secret = save_review(title="Restricted regex outage", patterns=["untested-input-regime"])
    Incident.objects.filter(pk=secret.pk).update(restricted_to=GroupFactory())
    html = logged_in.get("/patterns/untested-input-regime/").content.decode()
    assert "Restricted regex outage" not in html


def test_shape_page_links_its_canonical_incident_and_the_other_shapes(client):
    call_command("load_demo", stdout=StringIO())
    client.login(username="demo", password="seams-demo")
    html = client.get("/shapes/concentration/").content.decode()
    s3 = Incident.objects.get(external_id="demo:aws-s3-2017")
    assert s3.get_absolute_url() in html
    assert "Worst-case interaction" in html


def test_leverage_and_perrow_pages(logged_in):
    html = logged_in.get("/leverage/").content.decode()
    assert "Parameters" in html or "parameters" in html
    assert "aradigm" in html
    html = logged_in.get("/perrow/").content.decode()
    assert "Interactive complexity" in html
    assert "Coupling" in html


def test_the_pattern_picker_shows_summaries_and_warning_signs(logged_in):
    html = logged_in.get(reverse("incidents:create")).content.decode()
    pattern = StructuralPattern.objects.get(slug="hard-limit-without-fallback")
    assert pattern.summary.replace("'", "&#x27;") in html
    assert pattern.entry["warning_signs"]["early"][0].replace("'", "&#x27;") in html
    assert "1 — " in html  # Perrow scores are labelled


@pytest.mark.parametrize(
    ("url", "max_queries"),
    [
        # Each with the reader's permissions for the menu (2 queries).
        ("/patterns/", 9),  # 6, and the reader's unread notifications for the nav
        ("/patterns/fast-global-propagation/", 11),
        ("/shapes/cascade/", 10),
        ("/leverage/", 6),
    ],
)
def test_catalogue_pages_have_constant_query_counts(
    logged_in, save_review, django_assert_max_num_queries, url, max_queries
):
    for n in range(8):
        save_review(title=f"I{n}", patterns=["fast-global-propagation"], components=[f"C{n}"])
    with django_assert_max_num_queries(max_queries):
        assert logged_in.get(url).status_code == 200


# --- API ---------------------------------------------------------------------------------


def test_pattern_endpoint_returns_every_section_as_structured_json(read_api):
    data = read_api.get("/api/v1/patterns/buried-assumption/").json()
    for key in ["why_it_looks_healthy", "mistaken_for", "first_noticed_by", "blast_radius",
                "contributing_conditions", "match_terms", "aliases", "typical_shapes"]:  # fmt: skip
        assert isinstance(data[key], list), key
        assert data[key], key
    assert set(data["unfolds"]) == {"starts", "feels_reasonable_because", "escalates", "ends"}
    assert all(isinstance(data["warning_signs"][s], list) for s in ("early", "mid", "late"))
    assert isinstance(data["response"]["structural_fixes"], list)
    assert data["response"]["first_move"]
    assert data["phrases"][0]["text"]
    assert data["phrases"][0]["said_by"]
    assert data["evidence"][0]["note"]
    assert data["confused_with"] or data["leads_to"]


def test_patterns_filter_by_shape(read_api):
    data = read_api.get("/api/v1/patterns/?shape=concentration").json()
    slugs = {p["slug"] for p in data["results"]}
    expected = set(
        StructuralPattern.objects.filter(typical_shapes__slug="concentration").values_list(
            "slug", flat=True
        )
    )
    assert slugs == expected
    assert read_api.get("/api/v1/patterns/?shape=nope").status_code == 400


def test_shapes_and_leverage_levels_endpoints(read_api):
    shapes = read_api.get("/api/v1/shapes/").json()
    cascade = shapes[0]
    assert cascade["slug"] == "cascade"
    assert isinstance(cascade["recognise"], list)
    assert cascade["recognise"]
    assert cascade["canonical_incident"]
    levels = read_api.get("/api/v1/leverage-levels/").json()
    assert [lvl["number"] for lvl in levels] == list(range(12, 0, -1))
    assert levels[0]["in_operations"]


@pytest.mark.parametrize(
    ("url", "max_queries"),
    [
        ("/api/v1/patterns/", 7),
        ("/api/v1/patterns/fast-global-propagation/", 6),
        ("/api/v1/shapes/", 3),
        ("/api/v1/leverage-levels/", 3),
    ],
)
def test_catalogue_endpoints_have_constant_query_counts(
    read_api, django_assert_max_num_queries, url, max_queries
):
    with django_assert_max_num_queries(max_queries):
        assert read_api.get(url).status_code == 200


def test_the_openapi_schema_generates_without_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=StringIO())


def test_pattern_page_lists_its_mechanisms_with_their_summaries(logged_in):
    pattern = StructuralPattern.objects.get(slug="unowned-expiry")
    html = logged_in.get(pattern.get_absolute_url()).content.decode()
    assert "Mechanisms" in html
    for mechanism in pattern.entry["mechanisms"]:
        assert mechanism["name"] in html
        assert mechanism["summary"].replace("'", "&#x27;") in html
    other = StructuralPattern.objects.get(slug="alert-fatigue")
    assert "mechanisms-heading" not in logged_in.get(other.get_absolute_url()).content.decode()
