"""A review's author imports the incident channel's Slack export into the timeline, in a real
browser: Import from chat on the edit form → upload → preview with pinned and starred
messages ticked → one more ticked and a kind changed → import → the rows on the review."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from incidents import services
from tests.factories import UserFactory
from tests.timeline_import_helpers import export_zip

pytestmark = pytest.mark.django_db(transaction=True)


def test_upload_preview_import(page, login, tmp_path, browser_events):
    author = UserFactory(username="author", role="author")
    incident = services.incident_create(
        by=author,
        content=services.ReviewContent(fields={"title": "Checkout latency", "summary": "Slow."}),
    )
    export = tmp_path / "slack-export.zip"
    export.write_bytes(export_zip())
    login(page, "author")

    page.goto(reverse("incidents:edit", args=[incident.pk]))
    page.get_by_role("link", name="Import from chat").click()
    expect(page.get_by_role("heading", name="Import the timeline from chat")).to_be_visible()
    page.get_by_label("Slack export").set_input_files(str(export))
    page.get_by_role("button", name="Preview the messages").click()

    expect(page.get_by_role("heading", name="Choose the messages for the timeline")).to_be_visible()
    rows = page.locator("table.import-preview tbody tr")
    expect(rows).to_have_count(18)
    ticked = page.locator("input[name=select]:checked")
    expect(ticked).to_have_count(7)
    expect(page.locator("table.import-preview")).not_to_contain_text("Dana")
    # The decision to roll back is not pinned: the author ticks it, and names it a decision.
    decision = rows.filter(has_text="Let's roll back checkout-api")
    decision.get_by_role("checkbox").check()
    decision.get_by_label("Kind").select_option("decision")
    # The alert the bot posted is a detection, not an observation.
    expect(rows.first.get_by_label("Kind")).to_have_value("detection")
    page.get_by_role("button", name="Import the ticked messages").click()

    expect(page.locator(".messages")).to_contain_text("Imported 8 timeline events from chat.")
    page.goto(incident.get_absolute_url())
    events = page.locator("ol.timeline > li")
    expect(events).to_have_count(8)
    expect(events.nth(0)).to_contain_text("Bot: [Alerting] Checkout p99 latency above 2s")
    expect(events.nth(0).locator("time")).to_have_attribute(
        "datetime", "2024-03-01T23:40:12.000100+00:00"
    )
    expect(events.nth(3)).to_contain_text("Decision")
    expect(events.nth(3)).to_contain_text(
        "Incident Commander: Let's roll back checkout-api to 2024.03.01-2"
    )
    expect(events.nth(7)).to_contain_text("Incident Commander: Resolved. Thanks all 🎉")
    assert browser_events.page_errors == []
