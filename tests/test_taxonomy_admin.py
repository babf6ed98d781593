"""The catalogue admin: editing pattern entries section by section instead of as JSON."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.forms import CheckboxInput
from django.urls import reverse

from taxonomy import catalogue
from taxonomy.admin_forms import (
    EmergentShapeAdminForm,
    EvidenceField,
    LinesField,
    PhrasesField,
    StructuralPatternAdminForm,
)
from taxonomy.models import EmergentShape, PatternRelation, StructuralPattern

SLUG = "fast-global-propagation"


def _change_url(pattern: StructuralPattern) -> str:
    """The admin change page of a pattern."""
    return reverse("admin:taxonomy_structuralpattern_change", args=[pattern.pk])


def _form_data(response: Any) -> dict[str, Any]:
    """The POST data a browser would send for an admin page exactly as it was rendered.

    Built from the page's forms (the main form, and each inline's management form and rows)
    so the relation inline's prefix and counts are whatever the admin actually rendered.
    """
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms.append(inline.formset.management_form)
        forms.extend(inline.formset.forms)
    data: dict[str, Any] = {}
    for form in forms:
        for bound in form:
            value = bound.value()
            if isinstance(bound.field.widget, CheckboxInput):
                # An unticked checkbox is simply absent from a browser's POST.
                if value:
                    data[bound.html_name] = "on"
            elif isinstance(value, (list, tuple)):
                data[bound.html_name] = [str(item) for item in value]
            elif value is not None:
                data[bound.html_name] = value
    data["_save"] = "Save"
    return data


def _textarea(content: str, name: str) -> str:
    """The text inside the rendered textarea called `name`."""
    match = re.search(rf'<textarea name="{name}"[^>]*>(.*?)</textarea>', content, re.DOTALL)
    assert match, f"no textarea {name}"
    return html.unescape(match.group(1)).strip("\r\n")


def _unbound_data(form: StructuralPatternAdminForm | EmergentShapeAdminForm) -> dict[str, Any]:
    """What submitting a form untouched would send (outside the admin, no inlines)."""
    data: dict[str, Any] = {}
    for bound in form:
        value = bound.value()
        if isinstance(bound.field.widget, CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, (list, tuple)):
            data[bound.html_name] = [str(item) for item in value]
        elif value is not None:
            data[bound.html_name] = value
    return data


@pytest.mark.django_db
def test_change_page_shows_sections_in_textareas_not_json(admin_client):
    """A shipped pattern's page shows each section as text to edit, and no JSON."""
    pattern = StructuralPattern.objects.get(slug=SLUG)
    response = admin_client.get(_change_url(pattern))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="entry"' not in content
    signs = pattern.entry["warning_signs"]
    for stage in ("early", "mid", "late"):
        assert _textarea(content, f"warning_signs_{stage}").splitlines() == signs[stage]
    phrase = pattern.entry["phrases"][0]
    assert f"{phrase['text']} | {phrase['said_by']}" in _textarea(content, "phrases")
    for heading in ("Identity", "How it unfolds", "Warning signs", "Evidence and matching"):
        assert heading in content
    # A shipped pattern keeps its slug, so it is shown but not editable.
    assert 'name="slug"' not in content


@pytest.mark.django_db
def test_posting_edits_writes_sections_and_keeps_the_rest(admin_client):
    """Edited sections are saved as lists; untouched and unknown keys stay as they were."""
    pattern = StructuralPattern.objects.get(slug=SLUG)
    # Keys the form does not know about must survive a save.
    pattern.entry["house_note"] = "kept"
    pattern.entry["unfolds"]["aside"] = "kept too"
    pattern.save()
    before = dict(pattern.entry)
    relations = PatternRelation.objects.filter(source=pattern).count()

    data = _form_data(admin_client.get(_change_url(pattern)))
    assert "relations_out-TOTAL_FORMS" in data
    early = data["warning_signs_early"].splitlines()
    early[0] = "  Config pushes skip the canary as a matter of course  "
    data["warning_signs_early"] = "\r\n".join([*early, "", "   "])
    data["phrases"] += "\r\nWe'll roll it back everywhere just as fast. | incident commander"
    response = admin_client.post(_change_url(pattern), data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    pattern.refresh_from_db()
    entry = pattern.entry
    assert entry["warning_signs"]["early"] == [
        "Config pushes skip the canary as a matter of course",
        *before["warning_signs"]["early"][1:],
    ]
    assert entry["warning_signs"]["mid"] == before["warning_signs"]["mid"]
    assert entry["phrases"] == [
        *before["phrases"],
        {"text": "We'll roll it back everywhere just as fast.", "said_by": "incident commander"},
    ]
    for section in set(before) - {"warning_signs", "phrases"}:
        assert entry[section] == before[section], section
    assert entry["house_note"] == "kept"
    assert entry["unfolds"]["aside"] == "kept too"
    assert PatternRelation.objects.filter(source=pattern).count() == relations
    assert catalogue.is_locally_edited(pattern)


@pytest.mark.django_db
def test_malformed_phrase_line_returns_the_form_with_an_error_naming_the_line(admin_client):
    """A phrase without “|” is refused with the line's number and text; nothing is saved."""
    pattern = StructuralPattern.objects.get(slug=SLUG)
    before = pattern.entry
    data = _form_data(admin_client.get(_change_url(pattern)))
    count = len(data["phrases"].splitlines())
    data["phrases"] += "\nNobody said who said this"
    response = admin_client.post(_change_url(pattern), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["phrases"]
    assert len(errors) == 1
    assert f"Line {count + 1}" in errors[0]
    assert "Nobody said who said this" in errors[0]
    assert "“|” is missing" in errors[0]
    assert "Line" in response.content.decode()
    pattern.refresh_from_db()
    assert pattern.entry == before


@pytest.mark.django_db
def test_add_page_creates_a_local_pattern_with_its_sections(admin_client):
    """A pattern added in the admin is local, and its entry has every section."""
    url = reverse("admin:taxonomy_structuralpattern_add")
    response = admin_client.get(url)
    assert response.status_code == 200
    data = _form_data(response)
    data.update(
        name="Quiet quota exhaustion",
        slug="quiet-quota-exhaustion",
        summary="A shared quota runs out without anyone being told.",
        definition="Several teams draw on one quota that nobody watches.",
        aliases="silent quota\n\nshared limit",
        typical_shapes=[str(EmergentShape.objects.get(slug="concentration").pk)],
        blast_radius=["operations", "team"],
        why_it_looks_healthy="Each team is well within its own share\n",
        unfolds_starts="Teams share one account's quota.",
        warning_signs_early="Nobody owns the quota\nUsage is only seen on the bill",
        response_first_move="Find who is using the quota.",
        phrases="It's a big quota, we'll never hit it. | platform lead",
        evidence="aws-s3-2017 | Capacity was assumed, not checked.\n| A general case.",
        match_terms="quota exceeded\nrate limited",
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    pattern = StructuralPattern.objects.get(slug="quiet-quota-exhaustion")
    assert not pattern.shipped
    assert pattern.shipped_digest == ""
    assert pattern.aliases == ["silent quota", "shared limit"]
    assert list(pattern.typical_shapes.values_list("slug", flat=True)) == ["concentration"]
    entry = pattern.entry
    assert entry["blast_radius"] == ["operations", "team"]
    assert entry["why_it_looks_healthy"] == ["Each team is well within its own share"]
    assert entry["unfolds"]["starts"] == "Teams share one account's quota."
    assert entry["unfolds"]["ends"] == ""
    assert entry["warning_signs"] == {
        "early": ["Nobody owns the quota", "Usage is only seen on the bill"],
        "mid": [],
        "late": [],
    }
    assert entry["response"]["first_move"] == "Find who is using the quota."
    assert entry["phrases"] == [
        {"text": "It's a big quota, we'll never hit it.", "said_by": "platform lead"}
    ]
    assert entry["evidence"] == [
        {"incident": "aws-s3-2017", "note": "Capacity was assumed, not checked."},
        {"incident": "", "note": "A general case."},
    ]
    assert entry["match_terms"] == ["quota exceeded", "rate limited"]
    # A new entry gets the full schema, empty where nothing was entered.
    assert entry["mistaken_for"] == []
    assert entry["notes_from_practice"] == {
        "best_moment": "",
        "counter_move": "",
        "false_positive": "",
    }
    assert not catalogue.is_locally_edited(pattern)


@pytest.mark.django_db
def test_list_page_marks_shipped_entries_edited_locally(admin_client):
    """The list tells edited shipped entries from untouched ones and from local patterns."""
    pattern = StructuralPattern.objects.get(slug=SLUG)
    pattern.entry["mistaken_for"].append("a healthy habit")
    pattern.save()
    StructuralPattern.objects.create(slug="our-own", name="Our own pattern", summary="Ours.")

    response = admin_client.get(reverse("admin:taxonomy_structuralpattern_changelist"))
    assert response.status_code == 200
    rows = {
        html.unescape(match.group(1)): match.group(0)
        for match in re.finditer(r"<tr>.*?>([^<>]+)</a></th>.*?</tr>", response.content.decode())
    }
    assert "edited locally" in rows[pattern.name]
    assert "as shipped" in rows["Buried assumption"]
    assert "local pattern" in rows["Our own pattern"]


@pytest.mark.django_db
def test_saving_any_shipped_pattern_untouched_keeps_it_as_shipped():
    """Pressing Save without edits never turns a shipped entry into a local edit."""
    # A round trip through the form must not rewrite anything: otherwise merely pressing Save
    # would make sync_catalogue treat the entry as edited locally.
    patterns = StructuralPattern.objects.prefetch_related("typical_shapes")
    assert patterns.exists()
    for pattern in patterns:
        stored = pattern.entry
        form = StructuralPatternAdminForm(
            _unbound_data(StructuralPatternAdminForm(instance=pattern)), instance=pattern
        )
        assert form.is_valid(), (pattern.slug, form.errors)
        assert form.changed_data == [], pattern.slug
        form.save()
        pattern.refresh_from_db()
        assert pattern.entry == stored, pattern.slug
        assert not catalogue.is_locally_edited(pattern), pattern.slug


@pytest.mark.django_db
def test_shape_admin_edits_sections_and_keeps_the_rest(admin_client):
    """The shape admin edits entry sections the same way as the pattern admin."""
    shape = EmergentShape.objects.get(slug="cascade")
    url = reverse("admin:taxonomy_emergentshape_change", args=[shape.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert 'name="entry"' not in response.content.decode()
    data = _form_data(response)
    data["recognise"] += "\nDid the damage move faster than people could act?"
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    before = shape.entry
    shape.refresh_from_db()
    assert shape.entry["recognise"] == [
        *before["recognise"],
        "Did the damage move faster than people could act?",
    ]
    assert {k: v for k, v in shape.entry.items() if k != "recognise"} == {
        k: v for k, v in before.items() if k != "recognise"
    }


@pytest.mark.django_db
def test_a_non_standard_blast_radius_value_is_offered_not_dropped():
    """A stored blast-radius value outside the four choices survives a save."""
    pattern = StructuralPattern.objects.get(slug=SLUG)
    pattern.entry["blast_radius"] = ["operations", "security"]
    form = StructuralPatternAdminForm(instance=pattern)
    assert "security" in dict(form.fields["blast_radius"].choices)
    # Choices are per form: the next form does not inherit this pattern's extra value.
    other = StructuralPattern.objects.get(slug="buried-assumption")
    assert "security" not in dict(
        StructuralPatternAdminForm(instance=other).fields["blast_radius"].choices
    )
    bound = StructuralPatternAdminForm(_unbound_data(form), instance=pattern)
    assert bound.is_valid(), bound.errors
    assert "blast_radius" not in bound.changed_data


def test_lines_field_ignores_blank_lines_and_strips_items():
    """One item per line: blank lines dropped, items stripped, CRLF understood."""
    assert LinesField().clean("  one \r\n\r\n two\n   \n") == ["one", "two"]
    assert LinesField().clean("") == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("text | role", {"text": "text", "said_by": "role"}),
        ("a | b in a quote | role", {"text": "a | b in a quote", "said_by": "role"}),
    ],
)
def test_phrase_lines_split_at_the_last_bar(line, expected):
    """A pipe inside the quoted text stays in the text."""
    assert PhrasesField().clean(line) == [expected]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no bar here", "Line 1"),
        ("ok | fine\n\n | nobody", "Line 3"),
        ("said it |", "who says it"),
    ],
)
def test_bad_phrase_lines_are_named(value, message):
    """Each malformed phrase line is reported by number."""
    with pytest.raises(ValidationError, match=message):
        PhrasesField().clean(value)


def test_evidence_lines_allow_an_empty_key_and_reject_a_key_with_spaces():
    """“| note” is a general case; a key with spaces is reported, as is a missing “|”."""
    field = EvidenceField()
    assert field.clean("| general | case") == [{"incident": "", "note": "general | case"}]
    with pytest.raises(ValidationError) as raised:
        field.clean("cloudflare-waf-2019 | fine\nCloudflare outage | wrong\nno bar")
    errors = raised.value.messages
    assert len(errors) == 2
    assert errors[0].startswith("Line 2")
    assert "one word" in errors[0]
    assert errors[1].startswith("Line 3")
    assert "is missing" in errors[1]


@pytest.mark.django_db
def test_untouched_save_of_a_shipped_entry_with_awkward_text_is_not_a_local_edit(admin_client):
    """A shipped entry whose text has surrounding spaces and CR LF, saved from its page as a
    browser sends it, stays exactly as shipped: `sync_catalogue` must not see a local edit."""
    from .test_round_trip import browser_submission

    pattern = StructuralPattern.objects.get(slug=SLUG)
    pattern.name = f"  {pattern.name} "
    pattern.summary = f" {pattern.summary}\r\nsecond line  "
    pattern.aliases = [f"  {alias} " for alias in pattern.aliases]
    pattern.entry["unfolds"]["starts"] = f"  {pattern.entry['unfolds']['starts']}\r\n"
    pattern.shipped_digest = catalogue.digest(catalogue.stored_content(pattern))
    pattern.save()
    before = StructuralPattern.objects.filter(pk=pattern.pk).values().get()
    assert not catalogue.is_locally_edited(pattern)

    page = admin_client.get(_change_url(pattern))
    data = browser_submission(page.content.decode(), "structuralpattern_form")
    data["_save"] = ["Save"]
    assert admin_client.post(_change_url(pattern), data).status_code == 302

    assert StructuralPattern.objects.filter(pk=pattern.pk).values().get() == before
    assert not catalogue.is_locally_edited(StructuralPattern.objects.get(pk=pattern.pk))
