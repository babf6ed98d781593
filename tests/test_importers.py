"""Importing a messy folder of Markdown post-mortems."""

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
