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
