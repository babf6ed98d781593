"""The Markdown export of one review: every part, in people's words, and nothing the author
wrote can break the document around it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from markdown_it import MarkdownIt

from exports.markdown import cell, contained, review_markdown, text
from incidents import services
from incidents.models import ActionItem, Incident
from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern

from .factories import UserFactory

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
# A GFM-style reader of the export (tables on), rendering raw HTML as it comes.
READER = MarkdownIt("commonmark", {"html": True}).enable("table")


def full_review(**fields) -> Incident:
    """A review with every part filled in, as an author would write it."""
    leverage = LeverageLevel.objects.get(slug="rules")
    pattern = StructuralPattern.objects.get(slug="alert-fatigue")
    return services.incident_create(
        by=UserFactory(username="ana", first_name="Ana", last_name="Lima"),
        content=services.ReviewContent(
            fields={
                "title": "Queue backlog | paging storm",
                "severity": Incident.Severity.SEV2,
                "status": Incident.Status.IN_REVIEW,
                "organisation": "Acme",
                "started_at": START,
                "detected_at": START + timedelta(minutes=12),
                "resolved_at": START + timedelta(hours=3),
                "summary": "The **queue** backed up.\n\n- pages fired\n- nobody slept",
                "impact": "Orders were *late*.",
                "narrative": "It began on a Saturday.",
                "went_well": "Failover worked.",
                "where_lucky": "Low traffic.",
                "users_affected_count": 1200,
                **fields,
            },
            shapes=list(EmergentShape.objects.filter(slug="cascade")),
            components=["Order queue", "Pager"],
            timeline=[
                services.TimelineEntry(
                    START,
                    "Consumer lag grows | past 10k\nthen 20k",
                    "trigger",
                    why_reasonable="Lag alerts had\nbeen noisy for weeks.",
                ),
                services.TimelineEntry(
                    START + timedelta(minutes=12), "On-call paged.", "detection"
                ),
            ],
            factors=["Alert thresholds set in 2019.", "Two teams own the queue:\n\n```\nA\n```"],
            actions=[
                services.ActionEntry(
                    "Tune the lag alert",
                    owner="SRE team",
                    status=ActionItem.Status.IN_PROGRESS,
                    due=date(2025, 4, 1),
                    kind=ActionItem.Kind.STRUCTURAL_FIX,
                    leverage_level=leverage,
                    pattern=pattern,
                    tracker_url="https://tracker.example.com/T-1",
                ),
                services.ActionEntry("Write the runbook"),
            ],
            patterns=[services.PatternClaim(pattern, "Pages fired so often they were muted.")],
        ),
    )


def sections(markdown: str) -> list[str]:
    return [line.removeprefix("## ") for line in markdown.splitlines() if line.startswith("## ")]


def test_every_part_of_the_review_is_there_in_order():
    out = review_markdown(full_review())
    assert out.startswith("# Queue backlog \\| paging storm\n")
    assert sections(out) == [
        "Summary", "Impact", "Timeline", "Narrative", "Contributing factors", "What went well",
        "Where we got lucky", "Structural patterns", "Action items",
    ]  # fmt: skip
    for fact in (
        "| **Severity** | SEV2 — major |",
        "| **Status** | In review |",
        "| **Organisation** | Acme |",
        "| **Started** | 2025-03-01 09:30 UTC |",
        "| **Detected** | 2025-03-01 09:42 UTC |",
        "| **Mitigated** | Not recorded |",
        "| **Resolved** | 2025-03-01 12:30 UTC |",
        "| **Users affected** | 1,200 users |",
        "| **Components** | Order queue, Pager |",
        "| **Emergent shapes** | Cascade |",
        "| **Written by** | Ana Lima |",
    ):
        assert fact in out, fact
    assert "All times are in UTC." in out
    # The author's Markdown, as written.
    assert "The **queue** backed up.\n\n- pages fired\n- nobody slept" in out
    assert "### Alert fatigue\n\nPages fired so often they were muted." in out
    assert "1. Alert thresholds set in 2019." in out
    assert "2. Two teams own the queue:\n\n   ```\n   A\n   ```" in out


def test_the_footer_links_to_the_review_in_seams(settings):
    settings.SEAMS_BASE_URL = "https://seams.example.com/"
    incident = full_review()
    out = review_markdown(incident)
    assert (
        out.rstrip()
        .splitlines()[-1]
        .endswith(f": <https://seams.example.com/incidents/{incident.pk}/>")
    )


def test_the_timeline_is_a_table_whose_cells_cannot_break_it():
    out = review_markdown(full_review())
    assert "| When (UTC) | Kind | What happened | Why it looked right at the time |" in out
    assert (
        "| 2025-03-01 09:30 UTC | Trigger | Consumer lag grows \\| past 10k<br>then 20k "
        "| Lag alerts had<br>been noisy for weeks. |"
    ) in out
    # Read as a reader would: two rows of four cells, the pipe kept inside its cell.
    html = READER.render(out)
    timeline = html.split("<h2>Timeline</h2>")[1].split("</table>")[0]
    assert timeline.count("<tr>") == 3  # the header and two events
    assert "Consumer lag grows | past 10k<br>then 20k" in timeline


def test_action_items_speak_peoples_words_never_codes():
    incident = full_review()
    team = Group.objects.create(name="Payments")
    person = UserFactory(username="bo", first_name="Bo", last_name="Chen")
    second, = incident.action_items.filter(title="Write the runbook")  # fmt: skip
    ActionItem.objects.create(incident=incident, title="Add a dashboard", owner_team=team)
    second.owner_user = person
    second.save()
    out = review_markdown(Incident.objects.get(pk=incident.pk))
    assert (
        "| Tune the lag alert | SRE team | In progress | 2025-04-01 | 5. Rules | "
        "Structural fix | Alert fatigue | <https://tracker.example.com/T-1> |"
    ) in out
    assert "| Write the runbook | Bo Chen | Open | — | — | Component patch | — | — |" in out
    assert "| Add a dashboard | Payments (team) | Open |" in out
    for code in ("structural_fix", "component_patch", "in_progress", "in_review", "sev2"):
        assert code not in out, code


def test_an_empty_review_says_what_is_missing():
    incident = services.incident_create(
        by=None, content=services.ReviewContent(fields={"title": "Bare", "started_at": None})
    )
    out = review_markdown(incident)
    assert "| **Started** | Not recorded |" in out
    assert "## Summary\n\n_Not recorded._" in out
    assert "_No timeline events recorded._" in out
    assert "_No action items._" in out
    assert "Written by" not in out


def test_hostile_plain_text_is_read_as_text_and_authors_markdown_is_kept():
    hostile = "<script>alert(1)</script> *boom* [x](javascript:alert(1))"
    incident = full_review(title=hostile, summary=hostile, organisation="<b>Evil</b> | Co")
    out = review_markdown(incident)
    # The title and the facts are plain text: escaped, so no reader makes markup of them.
    heading = READER.render(out.splitlines()[0])
    for markup in ("<script>", "<em>", "<a "):
        assert markup not in heading
    assert "&lt;script&gt;alert(1)&lt;/script&gt; *boom*" in heading
    assert "| **Organisation** | \\<b\\>Evil\\</b\\> \\| Co |" in out
    # The summary is the author's Markdown: copied as written, for the reader to sanitise.
    assert f"## Summary\n\n{hostile}\n" in out


def test_a_section_left_open_cannot_swallow_the_rest():
    incident = full_review(
        summary="Logs:\n```\nERROR queue full", impact="<!-- a note", narrative="<pre>\nraw"
    )
    out = review_markdown(incident)
    html = READER.render(out)
    for heading in ("Impact", "Timeline", "Narrative", "Action items"):
        assert f"<h2>{heading}</h2>" in html, heading
    assert "Logs:\n```\nERROR queue full\n```" in out


@pytest.mark.parametrize(
    "source",
    ["```py\nx = 1", "~~~~\n~~~\nstill code", "<!-- open", "<script>\nx", "<?php", "a\n\n> q"],
)
def test_contained_closes_what_the_author_left_open(source):
    html = READER.render(contained(source) + "\n\n## After\n")
    assert "<h2>After</h2>" in html


def test_text_and_cell_escaping():
    assert text("a | b *c* <d>\n  e") == "a \\| b \\*c\\* \\<d\\> e"
    assert cell("a | b\r\nc\n") == "a \\| b<br>c"
