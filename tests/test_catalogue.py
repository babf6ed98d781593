"""The shipped catalogue: its content, its relations, and upgrades that keep local edits."""

from io import StringIO

import pytest
from django.core.management import call_command

from taxonomy import catalogue
from taxonomy.models import EmergentShape, LeverageLevel, PatternRelation, StructuralPattern

DESIGN_SLUGS = {
    "local-optimization", "tight-coupling-cascade", "hidden-shared-dependency",
    "untested-input-regime", "fast-global-propagation", "buried-assumption",
    "hard-limit-without-fallback", "safeguard-removed-by-optimization",
    "monitor-depends-on-monitored", "control-path-in-blast-radius", "stale-observation",
    "recovery-untested-at-scale", "operator-tool-blast-radius", "retry-amplification",
    "slack-erosion", "metric-myopia", "serial-dependency-availability",
    "shared-resource-contention", "alert-fatigue", "automation-irony", "safe-mode-same-cost",
    "emergency-path-bypasses-safety",
}  # fmt: skip

ENTRY_SECTIONS = [
    "why_it_looks_healthy", "mistaken_for", "first_noticed_by", "blast_radius",
    "contributing_conditions", "match_terms", "unfolds", "warning_signs", "response",
    "notes_from_practice", "phrases", "evidence",
]  # fmt: skip


def _non_empty(value) -> bool:
    if isinstance(value, dict):
        return bool(value) and all(_non_empty(v) for v in value.values())
    if isinstance(value, list):
        return bool(value) and all(_non_empty(v) for v in value)
    if isinstance(value, str):
        return bool(value.strip()) or value == ""  # evidence.incident may be "" (general)
    return value is not None


@pytest.mark.django_db
def test_exactly_the_four_shapes_and_twelve_leverage_levels():
    assert list(EmergentShape.objects.values_list("slug", flat=True)) == [
        "cascade", "concentration", "worst-case-interaction", "recurrence",
    ]  # fmt: skip
    assert sorted(LeverageLevel.objects.values_list("number", flat=True)) == list(range(1, 13))


@pytest.mark.django_db
def test_every_design_slug_is_shipped_with_every_section_filled():
    patterns = {p.slug: p for p in StructuralPattern.objects.all()}
    assert set(patterns) >= DESIGN_SLUGS
    for slug, pattern in patterns.items():
        assert pattern.summary, slug
        assert pattern.definition, slug
        assert pattern.aliases, slug
        for section in ENTRY_SECTIONS:
            assert _non_empty(pattern.entry.get(section)), f"{slug}: {section} is empty"
        assert pattern.typical_shapes.exists(), slug


@pytest.mark.django_db
def test_relations_point_at_shipped_patterns_and_confusion_is_symmetric():
    confused = set(
        PatternRelation.objects.filter(kind="confused_with").values_list(
            "source__slug", "target__slug"
        )
    )
    assert confused
    assert all((b, a) in confused for a, b in confused)
    fgp = StructuralPattern.objects.get(slug="fast-global-propagation")
    amplified = set(
        fgp.relations_out.filter(kind="leads_to").values_list("target__slug", flat=True)
    )
    assert "buried-assumption" in amplified


@pytest.mark.django_db
def test_migrate_adds_a_missing_shipped_pattern_but_leaves_existing_ones():
    StructuralPattern.objects.get(slug="alert-fatigue").delete()
    edited = StructuralPattern.objects.get(slug="metric-myopia")
    edited.summary = "Our own wording."
    edited.save()

    added = catalogue.add_missing()

    assert "alert-fatigue" in added
    assert StructuralPattern.objects.filter(slug="alert-fatigue").exists()
    edited.refresh_from_db()
    assert edited.summary == "Our own wording."


@pytest.mark.django_db
def test_upgrade_over_a_local_edit_reports_it_and_apply_keeps_it():
    pattern = StructuralPattern.objects.get(slug="retry-amplification")
    pattern.summary = "Clients that retry together knock the service over again."
    pattern.save()

    out = StringIO()
    call_command("sync_catalogue", "--apply", "--diff", stdout=out)

    assert "edited locally     retry-amplification" in out.getvalue()
    assert "kept local edit of retry-amplification" in out.getvalue()
    assert "Clients that retry together" in out.getvalue()  # the diff shows the local text
    pattern.refresh_from_db()
    assert pattern.summary == "Clients that retry together knock the service over again."


@pytest.mark.django_db
def test_a_changed_shipped_entry_is_reported_and_applied_only_when_asked(monkeypatch):
    shipped = dict(catalogue.shipped_patterns())
    changed = dict(shipped["alert-fatigue"], summary="A newer shipped summary.")
    monkeypatch.setattr(
        catalogue, "shipped_patterns", lambda: {**shipped, "alert-fatigue": changed}
    )

    out = StringIO()
    call_command("sync_catalogue", stdout=out)
    assert "updated upstream   alert-fatigue" in out.getvalue()
    assert StructuralPattern.objects.get(slug="alert-fatigue").summary != changed["summary"]

    call_command("sync_catalogue", "--apply", stdout=StringIO())
    assert StructuralPattern.objects.get(slug="alert-fatigue").summary == changed["summary"]


# --- New patterns and mechanisms ---------------------------------------------------------

NEW_SLUGS = ["unowned-expiry", "route-announcement-propagation", "quota-hit-by-growth"]

# Every top-level key the catalogue README lists for a pattern file.
PATTERN_FILE_KEYS = {
    "slug", "name", "aliases", "summary", "definition", "why_it_looks_healthy", "mistaken_for",
    "first_noticed_by", "blast_radius", "typical_shapes", "contributing_conditions",
    "match_terms", "unfolds", "warning_signs", "response", "notes_from_practice", "phrases",
    "related", "evidence",
}  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("slug", NEW_SLUGS)
def test_the_new_patterns_load_with_every_key_and_their_mechanisms(slug):
    data = catalogue.shipped_patterns()[slug]
    assert set(data) >= PATTERN_FILE_KEYS, PATTERN_FILE_KEYS - set(data)
    assert 15 <= len(data["match_terms"]) <= 35
    pattern = StructuralPattern.objects.get(slug=slug)
    for section in ENTRY_SECTIONS:
        assert _non_empty(pattern.entry.get(section)), f"{slug}: {section} is empty"
    assert pattern.typical_shapes.exists()
    assert pattern.relations_out.count() == len(data["related"])
    assert [m["slug"] for m in pattern.entry["mechanisms"]] == [
        m["slug"] for m in data["mechanisms"]
    ]
    assert not catalogue.is_locally_edited(pattern)


def _write(directory, name: str, text: str) -> None:
    (directory / f"{name}.toml").write_text(text, encoding="utf-8")


_GOOD_MECHANISM = """
[[mechanisms]]
slug = "{slug}"
name = "Certificate expiry"
summary = "A certificate reaches its end date."
match_terms = ["certificate expired", "expired certificate", "cert expiry"]
"""


@pytest.mark.parametrize(
    ("mechanism", "message"),
    [
        (_GOOD_MECHANISM.replace('name = "Certificate expiry"\n', ""), "missing name"),
        (
            _GOOD_MECHANISM.replace(', "cert expiry"', ""),
            "match_terms has 2 phrase(s); between 3 and 15 needed",
        ),
        (_GOOD_MECHANISM.replace("slug = ", 'colour = "red"\nslug = '), "unknown key(s) colour"),
        (_GOOD_MECHANISM.replace('"{slug}"', '"Not A Slug"'), "must be lowercase words"),
    ],
)
def test_a_bad_mechanism_is_refused_with_a_message_naming_the_file(tmp_path, mechanism, message):
    _write(tmp_path, "some-pattern", 'slug = "some-pattern"\n' + mechanism.format(slug="m-one"))

    with pytest.raises(catalogue.CatalogueError) as refused:
        catalogue.load_patterns(tmp_path)

    assert "some-pattern.toml" in str(refused.value)
    assert message in str(refused.value)


def test_a_mechanism_slug_used_twice_in_the_catalogue_is_refused_naming_both_files(tmp_path):
    _write(tmp_path, "first", 'slug = "first"\n' + _GOOD_MECHANISM.format(slug="shared"))
    _write(tmp_path, "second", 'slug = "second"\n' + _GOOD_MECHANISM.format(slug="shared"))

    with pytest.raises(catalogue.CatalogueError) as refused:
        catalogue.load_patterns(tmp_path)

    assert "second.toml" in str(refused.value)
    assert "already used by a mechanism in first.toml" in str(refused.value)


def test_the_shipped_catalogue_passes_its_own_checks_with_unique_mechanism_slugs():
    patterns = catalogue.load_patterns(catalogue.CATALOGUE_DIR / "patterns")
    slugs = [m["slug"] for p in patterns.values() for m in p.get("mechanisms", [])]
    assert 20 <= len(slugs) <= 35
    assert len(slugs) == len(set(slugs))


def _as_before_the_upgrade() -> None:
    """Turn the test database into an install made before the new patterns and mechanisms
    shipped: the three patterns absent, and no pattern holding any mechanism."""
    StructuralPattern.objects.filter(slug__in=NEW_SLUGS).delete()
    for pattern in StructuralPattern.objects.all():
        pattern.entry.pop("mechanisms", None)
        pattern.save(update_fields=["entry"])


@pytest.mark.django_db
def test_an_existing_install_gains_new_patterns_and_mechanisms_on_sync_and_keeps_local_edits():
    _as_before_the_upgrade()
    edited = StructuralPattern.objects.get(slug="hard-limit-without-fallback")
    edited.summary = "Our own wording: a ceiling with nothing behind it."
    edited.save()
    assert catalogue.is_locally_edited(edited)

    out = StringIO()
    call_command("sync_catalogue", "--apply", stdout=out)

    for slug in NEW_SLUGS:
        assert f"added      {slug}" in out.getvalue()
        assert StructuralPattern.objects.get(slug=slug).entry["mechanisms"]
    assert "added      hard-limit-without-fallback/integer-width-exhausted" in out.getvalue()
    assert "kept local edit of hard-limit-without-fallback" in out.getvalue()
    edited.refresh_from_db()
    assert edited.summary == "Our own wording: a ceiling with nothing behind it."
    assert catalogue.is_locally_edited(edited)  # still reported as the organisation's edit
    assert {m["slug"] for m in edited.entry["mechanisms"]} == {
        "integer-width-exhausted", "transaction-id-wraparound", "disk-space-exhausted",
    }  # fmt: skip
    untouched = StructuralPattern.objects.get(slug="monitor-depends-on-monitored")
    assert untouched.entry["mechanisms"]
    assert not catalogue.is_locally_edited(untouched)


@pytest.mark.django_db
def test_migrate_alone_adds_missing_mechanisms_without_touching_an_edited_pattern():
    _as_before_the_upgrade()
    edited = StructuralPattern.objects.get(slug="retry-amplification")
    edited.entry["match_terms"] = ["our own phrase", *edited.entry["match_terms"]]
    edited.save()

    catalogue.add_missing()  # what the post_migrate hook runs

    edited.refresh_from_db()
    assert edited.entry["match_terms"][0] == "our own phrase"
    assert "retry-storm" in {m["slug"] for m in edited.entry["mechanisms"]}
    assert catalogue.is_locally_edited(edited)


@pytest.mark.django_db
def test_a_locally_edited_mechanism_is_kept_and_a_shipped_change_applied_only_when_asked(
    monkeypatch,
):
    pattern = StructuralPattern.objects.get(slug="retry-amplification")
    storm = next(m for m in pattern.entry["mechanisms"] if m["slug"] == "retry-storm")
    storm["summary"] = "Our clients retry in lockstep; this is how it bit us."
    pattern.save()
    shipped = dict(catalogue.shipped_patterns())
    herd_changed = [
        dict(m, summary="A newer shipped summary.") if m["slug"] == "thundering-herd" else m
        for m in shipped["retry-amplification"]["mechanisms"]
    ]
    monkeypatch.setattr(
        catalogue,
        "shipped_patterns",
        lambda: {
            **shipped,
            "retry-amplification": {**shipped["retry-amplification"], "mechanisms": herd_changed},
        },
    )

    out = StringIO()
    call_command("sync_catalogue", stdout=out)
    assert "edited locally     retry-amplification/retry-storm" in out.getvalue()
    assert "updated upstream   retry-amplification/thundering-herd" in out.getvalue()

    call_command("sync_catalogue", "--apply", stdout=StringIO())
    pattern.refresh_from_db()
    by_slug = {m["slug"]: m for m in pattern.entry["mechanisms"]}
    assert by_slug["retry-storm"]["summary"].startswith("Our clients retry in lockstep")
    assert by_slug["thundering-herd"]["summary"] == "A newer shipped summary."


@pytest.mark.django_db
def test_mechanisms_selector_returns_each_mechanism_with_its_pattern():
    from taxonomy.selectors import Mechanism, mechanisms

    found = mechanisms()
    by_slug = {m.slug: m for m in found}
    shipped = [m for p in catalogue.shipped_patterns().values() for m in p.get("mechanisms", [])]
    assert set(by_slug) == {m["slug"] for m in shipped}
    cert = by_slug["certificate-expiry"]
    assert isinstance(cert, Mechanism)
    assert (cert.pattern_slug, cert.pattern_name) == ("unowned-expiry", "Expiry no one owns")
    assert cert.name == "Certificate expiry"
    assert cert.summary
    assert isinstance(cert.match_terms, tuple)
    assert "certificate expired" in cert.match_terms
    assert by_slug["route-leak"].pattern_slug == "route-announcement-propagation"
    assert by_slug["api-rate-limit"].pattern_slug == "quota-hit-by-growth"
