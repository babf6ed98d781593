"""Saving a form untouched in a real browser changes nothing: what the browser shows in each
input is what it sends back, and what it sends back keeps what was stored."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from reports.models import Report

from ..test_round_trip import make_awkward_review, make_member, stored_review

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page_far_from_utc(browser, live_server, browser_events):
    """A page in a browser whose clock is not in UTC (a half-hour offset), like many
    authors': the times in the form must not move with the browser's time zone."""
    context = browser.new_context(base_url=live_server.url, timezone_id="America/St_Johns")
    browser_events.watch(context)
    yield context.new_page()
    context.close()


def test_saving_the_edit_form_untouched_keeps_dates_times_and_everything_else(
    page_far_from_utc, login, browser_events
):
    page = page_far_from_utc
    member = make_member()
    incident = make_awkward_review(member)
    before = stored_review(incident.pk)
    login(page, member.username)

    page.goto(reverse("incidents:edit", args=[incident.pk]))
    assert page.evaluate("new Date(2026, 2, 1).getTimezoneOffset()") == 210  # UTC-3:30
    action = page.get_by_role("group", name="Action 1", exact=True)
    expect(action.get_by_label("Due")).to_have_value("2026-12-15")
    the_incident = page.get_by_role("group", name="The incident", exact=True)
    expect(the_incident.get_by_label("Started at")).to_have_value("2026-03-01T09:15:42")
    expect(the_incident.get_by_label("Detected at")).to_have_value("2026-03-01T09:18:42")
    event = page.get_by_role("group", name="Event 2", exact=True)
    expect(event.get_by_label("What happened")).to_have_value("Two lines:\nfirst\nsecond")

    page.get_by_role("button", name="Save review").click()
    expect(page.get_by_text("Review saved.")).to_be_visible()
    expect(page.locator("time[datetime='2026-12-15']")).to_have_text("15 Dec 2026")
    assert stored_review(incident.pk) == before

    page.goto(reverse("incidents:diff", args=[incident.pk]))
    expect(page.get_by_role("heading", level=1)).to_have_text("Version 1 → version 2")
    expect(page.get_by_text("These two versions have the same content.")).to_be_visible()
    assert browser_events.page_errors == []


def test_the_report_form_shows_its_default_window_and_asks_for_it(page, login):
    member = make_member()
    login(page, member.username)
    today = timezone.now().date()

    page.goto(reverse("reports:list"))
    since = page.get_by_label("Since")
    until = page.get_by_label("Until")
    expect(since).to_have_value((today - timedelta(days=91)).isoformat())
    expect(until).to_have_value(today.isoformat())

    page.get_by_role("button", name="Generate report").click()
    expect(page).to_have_url(re.compile(r"/reports/[0-9a-f-]+/$"))
    params = Report.objects.get().params
    assert params["since"][:10] == (today - timedelta(days=91)).isoformat()
    assert params["until"][:10] == today.isoformat()
