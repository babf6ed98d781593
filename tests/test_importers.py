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


def test_imported_reviews_keep_their_identity_and_components(messy):
    import_folder(messy)
    incident = Incident.objects.get(external_id="11111111-aaaa-4bbb-8ccc-000000000001")
    assert incident.status == "published"
    assert incident.source_url == "https://status.example.com/incidents/1"
    assert sorted(c.name for c in incident.components.all()) == ["Edge", "Example Networks"]
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
    call_command("import_postmortems", str(messy), "--no-progress", stdout=out, stderr=StringIO())
    assert "3 created" in out.getvalue()
    assert "skipped broken.md: broken YAML" in out.getvalue()
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("import_postmortems", str(tmp_path / "nope"), stdout=StringIO())


def test_the_api_shows_external_id_and_source_url(messy, read_api):
    import_folder(messy)
    rows = read_api.get("/api/v1/incidents/").json()["results"]
    ids = {r["external_id"]: r["source_url"] for r in rows}
    assert ids["11111111-aaaa-4bbb-8ccc-000000000001"] == "https://status.example.com/incidents/1"
