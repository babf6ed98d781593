"""Review templates: what a template may name, and the templates Seams ships."""

from __future__ import annotations

import importlib

import pytest
from django.core.exceptions import ValidationError

from review_templates.models import ReviewTemplate
from review_templates.sections import SECTIONS, labels, validate_template

pytestmark = pytest.mark.django_db

shipped = importlib.import_module("review_templates.migrations.0002_shipped_templates")


def test_a_template_naming_known_sections_and_kinds_is_valid():
    assert (
        validate_template(
            required_sections=["summary", "timeline"],
            timeline_kinds=["trigger", "detection", "detection"],
            prompts={"narrative": "What did they know then?"},
        )
        == {}
    )


def test_an_unknown_section_or_kind_is_refused_naming_it_and_the_valid_ones():
    errors = validate_template(
        required_sections=["summary", "sumary"],
        timeline_kinds=["trigger", "explosion"],
        prompts={"lessons": "What did we learn?"},
    )
    assert "'sumary'" in errors["required_sections"][0]
    assert "contributing_factors" in errors["required_sections"][0]  # the valid names
    assert "'explosion'" in errors["timeline_kinds"][0]
    assert "mitigation" in errors["timeline_kinds"][0]
    assert "'lessons'" in errors["prompts"][0]


def test_wrong_shapes_and_repeats_are_refused_with_messages():
    errors = validate_template(
        required_sections=["summary", "summary"], timeline_kinds="trigger", prompts=["x"]
    )
    assert errors["required_sections"] == ["A section is listed twice; list each once."]
    assert errors["timeline_kinds"] == ["Timeline kind must be a list of names."]
    assert errors["prompts"] == ["Prompts must map a section name to the question's text."]


def test_the_model_refuses_an_unknown_section_when_cleaned():
    template = ReviewTemplate(name="Typo", required_sections=["impactt"])
    with pytest.raises(ValidationError) as refused:
        template.full_clean()
    assert "required_sections" in refused.value.message_dict


def test_sections_are_named_as_the_review_names_them_and_labelled_for_people():
    names = [s.name for s in SECTIONS]
    for name in ("summary", "impact", "narrative", "went_well", "where_lucky", "timeline",
                 "contributing_factors", "action_items", "patterns", "started_at"):  # fmt: skip
        assert name in names
    assert labels(["where_lucky", "started_at"]) == ["Start time", "Where we got lucky"]


def test_the_shipped_templates_exist_after_migrate_and_standard_is_the_default():
    standard = ReviewTemplate.objects.get(name="Standard review")
    security = ReviewTemplate.objects.get(name="Security incident")
    assert standard.is_default
    assert not security.is_default
    assert ReviewTemplate.objects.filter(is_default=True).count() == 1
    # What publishing requires (incidents.services.missing_for_publication), as sections.
    assert standard.required_labels() == [
        "Summary",
        "Impact",
        "Start time",
        "Narrative",
        "Timeline",
        "Contributing factors",
        "Action items",
        "Emergent shapes",
        "Structural patterns",
    ]
    assert security.timeline_kinds[:2] == ["trigger", "detection"]
    for template in (standard, security):
        template.full_clean()  # what shipped passes the same checks as a template defined here


def test_shipping_again_never_overwrites_an_organisations_edits():
    from django.apps import apps

    standard = ReviewTemplate.objects.get(name="Standard review")
    standard.required_sections = ["summary"]
    standard.is_default = False
    standard.save()
    mine = ReviewTemplate.objects.create(name="Ours", is_default=True)
    ReviewTemplate.objects.filter(name="Security incident").delete()

    shipped.ship(apps, None)

    standard.refresh_from_db()
    assert standard.required_sections == ["summary"]
    assert not standard.is_default
    mine.refresh_from_db()
    assert mine.is_default
    # A template the organisation deleted is only ever shipped by this one migration, which
    # runs once; run by hand it creates the missing one without touching the others.
    assert ReviewTemplate.objects.filter(name="Security incident").exists()
