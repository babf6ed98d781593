"""Importing a messy folder of Markdown post-mortems."""

import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from incidents.importers import import_folder
from incidents.models import Incident

pytestmark = pytest.mark.django_db

GOOD = """---
uuid: 11111111-aaaa-4bbb-8ccc-000000000001
url: https://status.example.com/incidents/1
title: Config push disables every edge node
company: Example Networks
product: Edge
categories: [config]
keywords: [config, global]
summary: A rule pushed to all servers at once exhausted CPU everywhere.
start_time: 2021-03-04T10:00:00Z
end_time: 2021-03-04T10:40:00Z
---

The change was propagated globally within seconds.
"""


def write(folder: Path, name: str, text: str | bytes) -> None:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def messy(tmp_path) -> Path:
    write(tmp_path, "good.md", GOOD)
    write(tmp_path, "zz-again.md", GOOD.replace("Config push", "Duplicate entry"))
    write(tmp_path, "broken.md", "---\ntitle: [unclosed\nuuid: x\n---\nbody\n")
    write(tmp_path, "nofront.md", "# Just a heading\n\nNo front matter here.\n")
    write(tmp_path, "latin1.md", "---\nuuid: l1\ntitle: caf\xe9\n---\n".encode("latin-1"))
    write(
        tmp_path,
        "untitled.md",
        "---\nuuid: 22222222-0000-0000-0000-000000000002\ncompany: Acme\nproduct: Queue\n"
        "favourite_colour: blue\nstart_time: not-a-date\n---\n\n"
        "The queue filled up and nothing drained it. Later paragraphs follow.\n\nMore.\n",
    )
    write(tmp_path, "empty.md", "---\nuuid: 33333333-0000-0000-0000-000000000003\n---\n")
    (tmp_path / "nested").mkdir()
    write(tmp_path / "nested", "deeper.md", GOOD.replace("000000000001", "000000000009"))
    return tmp_path


def test_a_messy_folder_imports_what_it_can_and_says_why_it_skipped_the_rest(messy):
    report = import_folder(messy)
    skipped = dict(report.skipped)
    assert set(skipped) == {"zz-again.md", "broken.md", "nofront.md", "latin1.md", "empty.md"}
    assert "duplicate of" in skipped["zz-again.md"]
    assert "broken YAML" in skipped["broken.md"]
    assert "no YAML front matter" in skipped["nofront.md"]
    assert "not UTF-8" in skipped["latin1.md"]
    assert "nothing to import" in skipped["empty.md"]
    assert report.created == 3
    notes = [w for name, w in report.warnings if name == "untitled.md"]
    assert any("unknown keys: favourite_colour" in w for w in notes)
    assert any("no title" in w for w in notes)
    assert any("start_time" in w for w in notes)


def test_imported_reviews_keep_their_identity_organisation_and_components(messy):
    import_folder(messy)
    incident = Incident.objects.get(external_id="11111111-aaaa-4bbb-8ccc-000000000001")
    assert incident.status == "published"
    assert incident.source_url == "https://status.example.com/incidents/1"
    # The company is where it happened (its organisation), not one of its components.
    assert incident.organisation == "Example Networks"
    assert sorted(c.name for c in incident.components.all()) == ["Edge"]
    assert incident.started_at.isoformat() == "2021-03-04T10:00:00+00:00"
    assert "propagated globally" in incident.narrative
    untitled = Incident.objects.get(external_id="22222222-0000-0000-0000-000000000002")
    assert untitled.title.startswith("The queue filled up")
    assert untitled.started_at is None


def test_importing_twice_updates_and_never_duplicates(messy):
    import_folder(messy)
    again = import_folder(messy)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert Incident.objects.count() == 3

    write(messy, "good.md", GOOD.replace("exhausted CPU everywhere", "pinned CPU everywhere"))
    third = import_folder(messy)
    assert (third.created, third.updated) == (0, 1)
    incident = Incident.objects.get(external_id="11111111-aaaa-4bbb-8ccc-000000000001")
    assert "pinned CPU" in incident.summary
    assert incident.revisions.count() == 2


def test_the_command_prints_a_summary_and_refuses_a_missing_folder(messy, tmp_path):
    out = StringIO()
    with pytest.raises(CommandError, match="5 of 8 files were skipped"):
        call_command(
            "import_postmortems", str(messy), "--no-progress", stdout=out, stderr=StringIO()
        )
    assert "3 created" in out.getvalue()
    assert "skipped broken.md: broken YAML" in out.getvalue()
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("import_postmortems", str(tmp_path / "nope"), stdout=StringIO())


def test_the_api_shows_external_id_and_source_url(messy, read_api):
    import_folder(messy)
    rows = read_api.get("/api/v1/incidents/").json()["results"]
    ids = {r["external_id"]: r["source_url"] for r in rows}
    assert ids["11111111-aaaa-4bbb-8ccc-000000000001"] == "https://status.example.com/incidents/1"


def front(uuid: str, extra: str = "", title: str = "A good review") -> str:
    return f"---\nuuid: {uuid}\ntitle: {title}\n{extra}summary: Something broke.\n---\nBody.\n"


@pytest.fixture
def hostile(tmp_path) -> Path:
    """One folder with every shape of bad file seen in real imports, between good ones."""
    write(tmp_path, "a-good.md", front("good-1"))
    (tmp_path / "b-folder.md").mkdir()
    write(tmp_path, "c-month-13.md", front("bad-date", "start_time: 2024-13-45\n"))
    write(tmp_path, "d-30-february.md", front("feb-30", "start_time: 2024-02-30T10:00:00Z\n"))
    write(tmp_path, "e-year-one.md", front("year-1", "start_time: 0001-01-01T00:00:00+05:00\n"))
    write(tmp_path, "f-nul.md", front("nul").replace("Body.", "Bo\x00dy."))
    write(tmp_path, "g-bom.md", "\ufeff" + front("bom"))
    write(tmp_path, "h-undecodable.md", front("latin").encode() + b"caf\xe9\n")
    write(tmp_path, "i-list.md", "---\n- just\n- a list\n---\nBody.\n")
    write(tmp_path, "j-title-list.md", "---\nuuid: tl\ntitle: [a, b]\nsummary: x\n---\n")
    huge = tmp_path / "k-huge.md"
    with huge.open("wb") as handle:
        handle.write(front("huge").encode())
        handle.truncate(9 * 1024 * 1024)
    write(tmp_path, "l-long-title.md", front("long-title", title="T" * 300))
    write(tmp_path, "z-good.md", front("good-2"))
    return tmp_path


def test_no_bad_file_stops_the_import_and_each_is_reported_with_its_reason(hostile):
    report = import_folder(hostile)
    skipped = dict(report.skipped)
    assert set(skipped) == {
        "b-folder.md", "f-nul.md", "h-undecodable.md", "i-list.md", "j-title-list.md",
        "k-huge.md",
    }  # fmt: skip
    assert "not a file" in skipped["b-folder.md"]
    assert "NUL byte" in skipped["f-nul.md"]
    assert "not UTF-8" in skipped["h-undecodable.md"]
    assert "not a mapping" in skipped["i-list.md"]
    assert "title is a list" in skipped["j-title-list.md"]
    assert "too large" in skipped["k-huge.md"]
    # Every other file was imported, the ones after the bad ones included.
    assert set(Incident.objects.values_list("external_id", flat=True)) == {
        "good-1", "good-2", "bad-date", "feb-30", "year-1", "bom", "long-title",
    }  # fmt: skip
    assert report.created == 7


def test_impossible_dates_are_left_empty_with_a_note_naming_the_file(hostile):
    report = import_folder(hostile)
    notes = dict(report.warnings)
    for name in ("c-month-13.md", "d-30-february.md", "e-year-one.md"):
        assert "start_time" in notes[name], name
        assert "not a valid date-time" in notes[name], name
    assert Incident.objects.get(external_id="bad-date").started_at is None
    assert Incident.objects.get(external_id="year-1").started_at is None


def test_a_byte_order_mark_is_not_read_as_missing_front_matter(hostile):
    import_folder(hostile)
    assert Incident.objects.get(external_id="bom").title == "A good review"


def test_a_cut_title_says_so(hostile):
    report = import_folder(hostile)
    notes = [w for name, w in report.warnings if name == "l-long-title.md"]
    assert notes == ["title was 300 characters; kept the first 250"]
    assert Incident.objects.get(external_id="long-title").title == "T" * 250


def test_the_command_names_every_bad_file_and_exits_non_zero(hostile):
    out = StringIO()
    with pytest.raises(CommandError, match="6 of 13 files were skipped") as raised:
        call_command(
            "import_postmortems", str(hostile), "--no-progress", stdout=out, stderr=StringIO()
        )
    assert raised.value.returncode == 1
    for name in ("b-folder.md", "f-nul.md", "h-undecodable.md", "k-huge.md"):
        assert f"skipped {name}: " in out.getvalue()
    assert "7 created" in out.getvalue()


# --- Fidelity: what a source says is kept, what it does not say stays unknown -----------------


def fm(uuid: str, lines: str = "", url: str = "https://example.org/pm") -> str:
    """A write-up's front matter with `lines` added (url empty: no url at all)."""
    url_line = f"url: {url}\n" if url else ""
    return (
        f"---\nuuid: {uuid}\n{url_line}title: Review {uuid}\n{lines}"
        "summary: Something broke.\n---\n\nThe body.\n"
    )


@pytest.mark.parametrize(
    ("said", "stored"),
    [
        ("SEV1", "sev1"), ("sev-2", "sev2"), ("Sev 3", "sev3"), ("S4", "sev4"),
        ("P1", "sev1"), ("priority 2", "sev2"), ("1", "sev1"), ("4", "sev4"),
        ("SEV0", "sev1"), ("P5", "sev4"), ("critical", "sev1"), ("Major", "sev2"),
        ("high", "sev2"), ("minor", "sev3"), ("medium", "sev3"), ("low", "sev4"),
        ("sev2", "sev2"), ("SEV2 — major", "sev2"), ("P1 - critical", "sev1"),
    ],
)  # fmt: skip
def test_a_severity_the_source_gives_is_mapped_to_seams_levels(tmp_path, said, stored):
    write(tmp_path, "a.md", fm("sev", f"severity: {said}\n"))
    report = import_folder(tmp_path)
    assert Incident.objects.get(external_id="sev").severity == stored
    assert report.fields["severity"]["from the source"] == 1
    assert not [w for _, w in report.warnings if "severity" in w]


@pytest.mark.parametrize("said", ["", "unknown", "n/a", "null"])
def test_a_severity_that_is_absent_or_says_unknown_stays_unknown_without_a_warning(tmp_path, said):
    write(tmp_path, "a.md", fm("none", f"severity: {said}\n" if said else ""))
    report = import_folder(tmp_path)
    assert Incident.objects.get(external_id="none").severity == Incident.Severity.UNKNOWN
    assert report.fields["severity"]["left unknown"] == 1
    assert report.warnings == []


@pytest.mark.parametrize("said", ["SEV9", "catastrophic", "yes", "[1, 2]", "1.5", "38%"])
def test_an_odd_severity_is_left_unknown_with_a_note(tmp_path, said):
    write(tmp_path, "a.md", fm("odd", f"severity: {said}\n"))
    report = import_folder(tmp_path)
    assert Incident.objects.get(external_id="odd").severity == Incident.Severity.UNKNOWN
    assert [w for _, w in report.warnings if w.startswith("severity")], report.warnings


def test_no_start_time_means_no_date_never_the_import_date(tmp_path):
    write(tmp_path, "a.md", fm("undated"))
    write(tmp_path, "b.md", fm("empty-date", 'start_time: ""\n'))
    write(tmp_path, "c.md", fm("end-only", "end_time: 2021-05-01T10:00:00Z\n"))
    write(tmp_path, "d.md", fm("published-only", "source_published_at: 2021-05-01T10:00:00Z\n"))
    report = import_folder(tmp_path)
    for external_id in ("undated", "empty-date", "end-only", "published-only"):
        incident = Incident.objects.get(external_id=external_id)
        assert incident.started_at is None, external_id
        assert incident.detected_at is incident.mitigated_at is None
    assert Incident.objects.get(external_id="end-only").resolved_at.year == 2021
    assert Incident.objects.get(external_id="undated").resolved_at is None
    assert report.fields["start date"]["left unknown"] == 4
    assert report.fields["end date"] == {"from the source": 1, "left unknown": 3}


def test_an_end_before_the_start_is_left_empty_with_a_note(tmp_path):
    times = "start_time: 2021-05-01T10:00:00Z\nend_time: 2021-04-30T10:00:00Z\n"
    write(tmp_path, "a.md", fm("backwards", times))
    report = import_folder(tmp_path)
    incident = Incident.objects.get(external_id="backwards")
    assert incident.started_at.isoformat() == "2021-05-01T10:00:00+00:00"
    assert incident.resolved_at is None
    assert ("a.md", "end_time is before start_time; end left empty") in report.warnings


@pytest.mark.parametrize(
    ("lines", "url", "stored", "provenance"),
    [
        ("status: draft\n", "https://example.org/1", "draft", "from the source"),
        ("status: In Review\n", "https://example.org/1", "in_review", "from the source"),
        ("status: final\n", "", "published", "from the source"),
        ("", "https://example.org/1", "published", 'inferred "Published"'),
        ("status: resolved\n", "https://example.org/1", "published", 'inferred "Published"'),
        ("", "", "draft", 'inferred "Draft"'),
    ],
)
def test_the_review_status_comes_from_the_source_else_is_inferred_and_named(
    tmp_path, lines, url, stored, provenance
):
    write(tmp_path, "a.md", fm("status", lines, url=url))
    report = import_folder(tmp_path)
    assert Incident.objects.get(external_id="status").status == stored
    (outcome,) = report.fields["review status"]
    assert outcome.startswith(provenance)
    # An incident's state is not a review's: said, but not used.
    assert any("not a review status" in w for _, w in report.warnings) == ("resolved" in lines)


@pytest.mark.parametrize(
    ("company", "product", "components", "provenance"),
    [
        ("Slack", "Slack", [], "none: the product named the organisation itself"),
        ("GitHub", "GitHub.com", [], "none: the product named the organisation itself"),
        ("Sentry", "Sentry (hosted)", [], "none: the product named the organisation itself"),
        ("Google", "Gmail, Google+, Calendar", ["Calendar", "Gmail", "Google+"], "from the source"),
        ("Amazon", "Amazon S3", ["Amazon S3"], "from the source"),
        ("Acme", "RDS (MySQL, replica), EC2", ["EC2", "RDS (MySQL, replica)"], "from the source"),
        ("Acme", '""', [], "left unknown"),
    ],
)
def test_the_company_is_the_organisation_and_never_a_component(
    tmp_path, company, product, components, provenance
):
    write(tmp_path, "a.md", fm("org", f"company: {company}\nproduct: {product}\n"))
    report = import_folder(tmp_path)
    incident = Incident.objects.get(external_id="org")
    assert incident.organisation == company
    assert sorted(c.name for c in incident.components.all()) == components
    assert dict(report.fields["components"]) == {provenance: 1}
    assert report.fields["organisation"]["from the source"] == 1


@pytest.mark.parametrize(
    ("said", "count", "prose"),
    [
        ("12000", 12000, ""), ("'12,000'", 12000, ""), ("0", 0, ""),
        ("~38%", None, "~38%"), ("15 stages, 40 min", None, "15 stages, 40 min"),
        ("-5", None, "-5"), ("1.5", None, "1.5"), ("true", None, ""),
    ],
)  # fmt: skip
def test_a_number_of_users_affected_is_read_only_from_a_number(tmp_path, said, count, prose):
    write(tmp_path, "a.md", fm("users", f"users_affected: {said}\n"))
    report = import_folder(tmp_path)
    incident = Incident.objects.get(external_id="users")
    assert incident.users_affected_count == count
    # Words stay words: kept as the review's prose, never read for a figure.
    assert incident.users_affected == prose
    outcome = "from the source" if count is not None else "left unknown"
    assert report.fields["users affected (number)"] == {outcome: 1}


def test_a_number_in_the_body_is_never_a_number_of_users(tmp_path):
    write(tmp_path, "a.md", fm("prose").replace("The body.", "About 40,000 users were affected."))
    import_folder(tmp_path)
    assert Incident.objects.get(external_id="prose").users_affected_count is None


def test_the_summary_says_per_field_what_came_from_the_source_and_what_was_inferred(tmp_path):
    said = "severity: SEV2\nstatus: published\ncompany: Acme\nstart_time: 2021-01-01\n"
    write(tmp_path, "a.md", fm("a", said + "users_affected: 40\n"))
    write(tmp_path, "b.md", fm("b", "company: Acme\nproduct: Queue\n"))
    write(tmp_path, "c.md", fm("c", "", url=""))
    report = import_folder(tmp_path)
    lines = report.summary().splitlines()
    assert lines[0] == "3 files: 3 created, 0 updated, 0 unchanged, 0 skipped, 0 warnings"
    assert lines[1] == "Per field, of the 3 files imported:"
    assert "  severity: 1 from the source, 2 left unknown" in lines
    assert (
        '  review status: 1 from the source, 1 inferred "Published" (public at its URL; no '
        'status given), 1 inferred "Draft" (no status and no public URL)'
    ) in lines
    assert "  start date: 1 from the source, 2 left unknown" in lines
    assert "  organisation: 2 from the source, 1 left unknown" in lines
    assert "  components: 1 from the source, 2 left unknown" in lines
    assert "  users affected (number): 1 from the source, 2 left unknown" in lines
    assert lines[-1] == "Inferred, not read from the source: review status (2)"


def test_a_summary_with_nothing_inferred_says_so(tmp_path):
    write(tmp_path, "a.md", fm("a", "status: draft\n"))
    assert (
        import_folder(tmp_path)
        .summary()
        .endswith("Nothing was inferred: every value came from a source or was left unknown.")
    )


def test_the_command_prints_what_was_inferred(tmp_path):
    write(tmp_path, "a.md", fm("a"))
    out = StringIO()
    call_command("import_postmortems", str(tmp_path), "--no-progress", stdout=out)
    assert "severity: 0 from the source, 1 left unknown" in out.getvalue()
    assert "Inferred, not read from the source: review status (1)" in out.getvalue()


def test_reimporting_puts_an_old_import_right_but_keeps_what_a_person_set(tmp_path, user):
    from incidents import services
    from incidents.revisions import snapshot

    write(tmp_path, "a.md", fm("untouched"))
    write(tmp_path, "b.md", fm("edited"))
    import_folder(tmp_path)
    # As imports before unknowns existed stored them: SEV3, dated the day of the import.
    now = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    Incident.objects.filter(external_id="untouched").update(severity="sev3", started_at=now)
    edited = Incident.objects.get(external_id="edited")
    content = services.content_from_snapshot(snapshot(edited))
    content.fields.update(severity="sev2", started_at=now, users_affected_count=300)
    services.incident_update(incident=edited, by=user, content=content, note="Assessed")

    report = import_folder(tmp_path)
    assert (report.updated, report.unchanged) == (1, 1)
    untouched = Incident.objects.get(external_id="untouched")
    assert (untouched.severity, untouched.started_at) == ("unknown", None)
    edited.refresh_from_db()
    assert (edited.severity, edited.started_at, edited.users_affected_count) == ("sev2", now, 300)
    # Said by the source, a value replaces a person's, as every imported field does.
    write(tmp_path, "b.md", fm("edited", "severity: SEV1\n"))
    import_folder(tmp_path)
    edited.refresh_from_db()
    assert (edited.severity, edited.started_at) == ("sev1", now)
