"""The review editor in a real browser: rows added and removed in place, a whole review in one
save, Seams' evidence beside the author's rationale, an outline that follows the reading, the
diff in local time, and every main page on a 390 px phone without sideways scrolling."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Page, expect

from incidents import services
from incidents.models import Incident
from taxonomy.models import LeverageLevel, StructuralPattern

from ..factories import UserFactory
from ..test_round_trip import stored_review

pytestmark = pytest.mark.django_db(transaction=True)


def author():
    """Someone whose role lets them write reviews."""
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="add_incident"))
    return user


def review_with_every_part(user) -> Incident:
    """Three timeline rows (seconds and all), three factors, two actions, two patterns."""
    at = dt.datetime(2026, 3, 1, 9, 15, 42, tzinfo=dt.UTC)
    patterns = StructuralPattern.objects.order_by("name")
    content = services.ReviewContent(
        fields={"title": " Every part ", "severity": "sev2", "started_at": at,
                "narrative": "Two\r\nlines", "complexity": 3, "coupling": 4},
        timeline=[
            services.TimelineEntry(occurred_at=at, kind="trigger", text=" Deploy "),
            services.TimelineEntry(occurred_at=at, kind="decision", text="Rolled\nback",
                                   why_reasonable="It had worked."),
            services.TimelineEntry(occurred_at=at + dt.timedelta(seconds=1), kind="recovery",
                                   text="Recovered"),
        ],
        factors=["  spaced  ", "multi\r\nline", "third"],
        actions=[
            services.ActionEntry(
                title="Renew automatically", owner=" ana ", due=dt.date(2026, 12, 15),
                tracker_url="https://tracker.example/T-1?x=1&y=2", kind="structural_fix",
                leverage_level=LeverageLevel.objects.first(), pattern=patterns[0],
            ),
            services.ActionEntry(title="Done already", status="done",
                                 completed_at=at + dt.timedelta(days=1)),
        ],
        patterns=[services.PatternClaim(pattern=patterns[0], rationale=" spaces \r\n"),
                  services.PatternClaim(pattern=patterns[1], rationale="Ünïcode")],
    )  # fmt: skip
    return services.incident_create(by=user, content=content)


def rows(page: Page, prefix: str):
    return page.locator(f'[data-formset="{prefix}"] [data-formset-row]:visible')


def add_until(page: Page, prefix: str, button: str, count: int) -> None:
    while rows(page, prefix).count() < count:
        before = rows(page, prefix).count()
        page.get_by_role("button", name=button).click()
        expect(rows(page, prefix)).to_have_count(before + 1)
        # Focus moves into the new row, to its first field.
        new_row = rows(page, prefix).last
        assert new_row.evaluate("(row) => row.contains(document.activeElement)")


def test_a_review_with_six_events_and_three_actions_is_written_in_one_save(
    page, login, browser_events
):
    user = author()
    login(page, user.username)
    page.goto(reverse("incidents:create"))
    page.get_by_role("group", name="The incident", exact=True).get_by_label("Title").fill(
        "Six events, three actions"
    )

    add_until(page, "timeline", "Add timeline event", 6)
    for i in range(1, 7):
        event = page.get_by_role("group", name=f"Event {i}", exact=True)
        event.get_by_label("When").fill(f"2026-05-01T10:0{i}")
        event.get_by_label("Kind").select_option(label="Decision")
        event.get_by_label("What happened").fill(f"Step {i}")

    # Four actions, then the second taken out again: the others close the gap.
    add_until(page, "actions", "Add action item", 4)
    for i in range(1, 5):
        page.get_by_role("group", name=f"Action {i}", exact=True).get_by_label("Title").fill(
            f"Action {i}"
        )
    page.get_by_role("group", name="Action 2", exact=True).get_by_role(
        "button", name="Remove action 2"
    ).click()
    expect(rows(page, "actions")).to_have_count(3)
    expect(page.locator("input[name=actions-TOTAL_FORMS]")).to_have_value("3")
    third = page.get_by_role("group", name="Action 3", exact=True).get_by_label("Title")
    expect(third).to_have_value("Action 4")
    expect(third).to_have_attribute("name", "actions-2-title")

    # Enter in a row's one-line field does not send the half-written review.
    third.press("Enter")
    expect(page.get_by_role("heading", name="Write a review", level=1)).to_be_visible()

    page.get_by_role("button", name="Save review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Six events, three actions")
    incident = Incident.objects.get(title="Six events, three actions")
    assert [e.text for e in incident.timeline.all()] == [f"Step {i}" for i in range(1, 7)]
    assert [a.title for a in incident.action_items.all()] == ["Action 1", "Action 3", "Action 4"]
    assert incident.version == 1
    assert browser_events.page_errors == []


def test_saving_the_editor_untouched_or_after_adding_and_removing_rows_changes_nothing(
    page, login, browser_events
):
    member = author()
    incident = review_with_every_part(member)
    before = stored_review(incident.pk)
    login(page, member.username)

    page.goto(reverse("incidents:edit", args=[incident.pk]))
    # Only the stored rows: no blank ones.
    expect(rows(page, "timeline")).to_have_count(3)
    expect(rows(page, "factors")).to_have_count(3)
    page.get_by_role("button", name="Save review").click()
    expect(page.get_by_text("Review saved.")).to_be_visible()
    assert stored_review(incident.pk) == before

    page.goto(reverse("incidents:edit", args=[incident.pk]))
    page.get_by_role("button", name="Add timeline event").click()
    page.get_by_role("button", name="Add contributing factor").click()
    page.get_by_role("group", name="Event 4", exact=True).get_by_role("button").click()
    page.get_by_role("button", name="Save review").click()
    expect(page.get_by_text("Review saved.")).to_be_visible()
    assert stored_review(incident.pk) == before
    page.goto(reverse("incidents:diff", args=[incident.pk]))
    expect(page.get_by_text("These two versions have the same content.")).to_be_visible()

    # Removing a stored row deletes it on save; the others keep their words.
    page.goto(reverse("incidents:edit", args=[incident.pk]))
    page.get_by_role("group", name="Event 1", exact=True).get_by_role(
        "button", name="Remove event 1"
    ).click()
    expect(rows(page, "timeline")).to_have_count(2)
    first_event = page.get_by_role("group", name="Event 1", exact=True)
    expect(first_event.get_by_label("Kind")).to_have_value("decision")
    page.get_by_role("button", name="Save review").click()
    expect(page.get_by_text("Review saved.")).to_be_visible()
    assert [e.kind for e in Incident.objects.get(pk=incident.pk).timeline.all()] == [
        "decision",
        "recovery",
    ]
    assert browser_events.page_errors == []


def test_use_this_pattern_leaves_the_rationale_to_the_author_with_the_evidence_beside_it(
    page, login, save_review
):
    user = author()
    incident = save_review(title="Paging noise", by=user)
    term = StructuralPattern.objects.get(slug="alert-fatigue").entry["match_terms"][0]
    login(page, user.username)
    page.goto(reverse("incidents:edit", args=[incident.pk]))
    page.get_by_label("Narrative", exact=True).fill(f"On-call had {term}; the alarm was missed.")

    suggestion = page.locator("#suggested-patterns li").filter(has_text="Alert fatigue")
    suggestion.get_by_role("button", name="Use this pattern").click()

    claim = page.get_by_role("group", name="Pattern 1", exact=True)
    expect(claim.locator("select[name$=-pattern]")).to_have_value(
        str(StructuralPattern.objects.get(slug="alert-fatigue").pk)
    )
    rationale = claim.get_by_label("Rationale")
    expect(rationale).to_have_value("")
    expect(rationale).to_be_focused()
    evidence = claim.get_by_role("note")
    expect(evidence).to_contain_text("Seams' evidence")
    expect(evidence).not_to_be_empty()

    page.get_by_role("button", name="Save review").click()
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.get_by_role("group", name="Pattern 1", exact=True)).to_contain_text(
        "a pattern link needs your rationale"
    )
    assert not incident.pattern_links.exists()

    page.get_by_role("group", name="Pattern 1", exact=True).get_by_label("Rationale").fill(
        "Dozens of pages a night taught everyone to ignore them."
    )
    page.get_by_role("button", name="Save review").click()
    expect(page.get_by_text("Review saved.")).to_be_visible()
    assert incident.pattern_links.get().rationale == (
        "Dozens of pages a night taught everyone to ignore them."
    )


def test_the_outline_follows_the_section_being_read(browser, live_server, login, save_review):
    user = author()
    incident = save_review(title="A long review", narrative="Text.\n\n" * 40, by=user)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        login(page, user.username)
        page.goto(incident.get_absolute_url())
        outline = page.get_by_role("navigation", name="Sections of the review")
        expect(outline).to_be_visible()
        page.locator("#actions-heading").scroll_into_view_if_needed()
        page.evaluate("document.getElementById('actions-heading').scrollIntoView()")
        expect(outline.locator("a[aria-current=true]")).to_have_text("Action items")
        outline.get_by_role("link", name="Timeline").click()
        expect(outline.locator("a[aria-current=true]")).to_have_text("Timeline")

        page.goto(reverse("incidents:edit", args=[incident.pk]))
        form_outline = page.get_by_role("navigation", name="Sections of the form")
        expect(form_outline.get_by_role("link", name="Action items")).to_be_visible()
        form_outline.get_by_role("link", name="Action items").click()
        expect(form_outline.locator("a[aria-current=true]")).to_have_text("Action items")
    finally:
        context.close()


def test_the_diff_shows_labels_and_times_in_the_readers_time_zone(
    browser, live_server, login, save_review
):
    user = author()
    started = dt.datetime(2026, 3, 1, 9, 15, tzinfo=dt.UTC)
    incident = save_review(title="Moved start", started_at=started, severity="sev3", by=user)
    content = services.content_from_snapshot(incident.revisions.get().snapshot)
    content.fields.update(started_at=started + dt.timedelta(hours=1), severity="sev1")
    services.incident_update(incident=incident, by=user, content=content, expected_version=1)
    context = browser.new_context(base_url=live_server.url, timezone_id="America/St_Johns")
    page = context.new_page()
    try:
        login(page, user.username)
        page.goto(reverse("incidents:diff", args=[incident.pk]))
        times = page.locator("section").filter(has=page.get_by_role("heading", name="Times"))
        # 10:15 UTC is 06:45 in Newfoundland (UTC-3:30); the UTC text stays as the tooltip.
        expect(times.locator("tr.ins time")).to_contain_text("06:45")
        expect(times.locator("tr.ins time")).to_have_attribute("title", "1 Mar 2026, 10:15 UTC")
        severity = page.locator("section").filter(has=page.get_by_role("heading", name="Severity"))
        expect(severity).to_contain_text("SEV1 — critical")
        expect(page.locator("main")).not_to_contain_text("sev1")
    finally:
        context.close()


def test_every_main_page_fits_a_390_px_phone_with_the_demo_data(browser, live_server, login):
    call_command("load_demo", verbosity=0)
    demo = Incident.objects.filter(action_items__isnull=False).distinct().first()
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        login(page, "demo", "seams-demo")
        urls = ["/", reverse("incidents:create"), "/recurrences/", "/reports/", "/patterns/"]
        for incident in Incident.objects.all():
            urls += [
                incident.get_absolute_url(),
                reverse("incidents:edit", args=[incident.pk]),
                reverse("incidents:history", args=[incident.pk]),
            ]
        for url in urls:
            page.goto(url)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{url} is {width}px wide on a 390px screen"

        # The list shows each review as a card with its status and start, not only its title.
        page.goto("/")
        first = page.locator("table.incident-table tbody tr").first
        expect(first.locator("td[data-label=Status]")).to_be_visible()
        expect(first.locator("td[data-label=Started]")).to_be_visible()
        # The review page's action items are stacked rows, each value named.
        page.goto(demo.get_absolute_url())
        item = (
            page.locator("section")
            .filter(has=page.get_by_role("heading", name="Action items", exact=True))
            .locator("tbody tr")
            .first
        )
        expect(item.locator("td[data-label=Status]")).to_be_visible()
        box = item.bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390
        # The outline sits collapsed at the top and opens on demand.
        outline = page.get_by_role("navigation", name="Sections of the review")
        expect(outline.get_by_role("link", name="Timeline")).to_be_hidden()
        outline.locator("summary").click()
        expect(outline.get_by_role("link", name="Timeline")).to_be_visible()
    finally:
        context.close()
