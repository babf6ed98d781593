"""With the demo data (and, where they are at hand, the public write-ups) imported, a lead's
path through the recurrences: the list, filtered; a structure's page; the reports. No
internal code appears on any page, and each fits a phone's width.

The write-ups are the corpus the similarity and duplicate measurements use (not shipped with
Seams). `SEAMS_CORPUS` points at its folder; without it the path is walked with the demo data
alone, whose recurring structures are the ones `make run` shows, so a fresh clone still runs
it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import expect

from incidents.analysis.recurrence import recompute_all
from incidents.models import Incident

pytestmark = pytest.mark.django_db(transaction=True)

DEFAULT_CORPUS = "../shared/corpora/icco-postmortems/data"
# Codes of action kinds and statuses, severities and structure signatures: the pages show
# their labels ("Structural fix", "SEV2 — major"), never these.
CODES = re.compile(
    r"structural_fix|component_patch|structuralfix|componentpatch|in_progress|wont_do"
    r"|\bsev[1-4]\b|\bpattern:|\bpair:|\bmechanism:"
)


def _corpus() -> Path | None:
    """The folder of public write-ups, or None where it is not at hand."""
    path = Path(os.environ.get("SEAMS_CORPUS", DEFAULT_CORPUS))
    if not path.is_absolute():
        path = Path(settings.BASE_DIR) / path
    if not path.is_dir() or not any(path.glob("*.md")):
        return None
    return path


def _shows_no_code(page, what: str) -> None:
    text = page.inner_text("body")
    found = CODES.findall(text)
    assert not found, f"{what} shows internal codes: {sorted(set(found))}"
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{what} is {overflow}px wider than the screen"


def test_recurrences_structure_and_reports_show_labels_not_codes(browser, live_server, login):
    corpus = _corpus()
    call_command("load_demo", verbosity=0)
    demo = Incident.objects.count()
    if corpus is not None:
        call_command("import_postmortems", str(corpus), "--no-progress", verbosity=0)
        assert Incident.objects.count() >= demo + 242
    recompute_all()

    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        login(page, "demo", "seams-demo")
        page.goto("/recurrences/")
        cards = page.locator(".structure-card")
        expect(cards.first).to_be_visible()
        _shows_no_code(page, "the recurrences page")

        # Filter: all time, most recurrences first, then one pattern of the first card.
        page.get_by_label("Seen in").select_option(label="All time")
        page.get_by_label("Sort by").select_option(label="Recurrences")
        page.get_by_role("button", name="Show").click()
        expect(page).to_have_url(re.compile(r"sort=recurrences"))
        expect(cards.first).to_be_visible()
        _shows_no_code(page, "the filtered recurrences page")
        first = cards.first.locator("h3 a")
        name = first.inner_text()

        first.click()
        expect(page.locator("h1")).to_have_text(name)
        expect(page.get_by_role("heading", name="Members on a time line")).to_be_visible()
        expect(page.get_by_role("heading", name="Action items across members")).to_be_visible()
        _shows_no_code(page, f"the page of {name!r}")

        # A figure's link lists the incidents behind it.
        page.locator("dl.figures a").first.click()
        expect(page.locator("#members li").first).to_be_visible()

        page.goto("/reports/")
        _shows_no_code(page, "the reports page")
        # A lead's report: all time, from the form as it stands.
        page.get_by_label("All time").check()
        page.get_by_role("button", name="Generate report").click()
        expect(page).to_have_url(re.compile(r"/reports/[0-9a-f-]{36}/"))
        page.reload()  # the job ran after the request's commit
        expect(page.get_by_text("Snapshot made")).to_be_visible()
        expect(page.get_by_role("alert")).to_have_count(0)
        _shows_no_code(page, "a report")
    finally:
        context.close()
