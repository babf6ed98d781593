"""A team of three reviews an incident in a real browser, through Seams' pages only.

The author writes the whole review in one save, sends it to the reviewer, gets changes
requested, fixes them and gets it approved; the admin publishes it. The owner of an action
item finds it under 'My action items', is reminded once when it is overdue and finds it under
'Overdue'; the PDF export holds the review; and no page scrolls sideways on a 390 px phone.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from config.celery_app import app as celery_app
from incidents.models import Incident
from people.models import Role
from people.roles import set_role

from ..factories import UserFactory
from .test_editor import add_until

pytestmark = pytest.mark.django_db(transaction=True)

TITLE = "Expired certificate took the payments API down"
STEPS = [
    ("trigger", "The intermediate certificate of the payments API expired."),
    ("detection", "Checkout error rate rose to 40 %."),
    ("decision", "On-call rolled back the morning's deploy."),
    ("observation", "Errors continued after the rollback."),
    ("mitigation", "The certificate was renewed by hand and pushed to the load balancers."),
    ("recovery", "Checkout error rate back to normal."),
]
OVERDUE_ACTION = "Alert 30 days before any certificate expires"
TEAM_ACTION = "Renew certificates automatically"
WRITTEN_ACTION = "Write the manual renewal runbook"


def person(username: str, role: Role):
    """Someone on the team, with the role an admin gave them."""
    user = UserFactory(username=username, email=f"{username}@example.com", role="")
    set_role(user, role)
    return user


def group(page: Page, name: str):
    return page.get_by_role("group", name=name, exact=True)


def write_the_review(page: Page, *, owner_username: str, team: str, overdue_since: dt.date):
    """The author fills in every section publishing needs, rows added in place."""
    page.goto(reverse("incidents:create"))
    incident = group(page, "The incident")
    incident.get_by_label("Title").fill(TITLE)
    incident.get_by_label("Severity").select_option(label="SEV2 — major")
    incident.get_by_label("Started at").fill("2026-04-02T09:14")
    page.get_by_label("Summary", exact=True).fill("Card payments failed for 52 minutes.")
    page.get_by_label("Impact", exact=True).fill("About 3,000 checkouts failed.")
    page.get_by_label("Narrative", exact=True).fill(
        "Nobody owned the renewal; the reminder went to a mailbox nobody read."
    )

    add_until(page, "timeline", "Add timeline event", 6)
    for i, (kind, text) in enumerate(STEPS, start=1):
        event = group(page, f"Event {i}")
        event.get_by_label("When").fill(f"2026-04-02T09:{10 + i * 5:02d}")
        event.get_by_label("Kind").select_option(kind)
        event.get_by_label("What happened").fill(text)
    group(page, "Event 3").get_by_label("Why it looked right at the time").fill(
        "The deploy was the only change that morning."
    )

    group(page, "Factor 1").get_by_label("Contributing factor").fill(
        "The certificate's renewal belonged to no team."
    )

    add_until(page, "actions", "Add action item", 3)
    first = group(page, "Action 1")
    first.get_by_label("Title").fill(OVERDUE_ACTION)
    first.get_by_label("Owner (a person)").select_option(label=owner_username)
    first.get_by_label("Due").fill(overdue_since.isoformat())
    second = group(page, "Action 2")
    second.get_by_label("Title").fill(TEAM_ACTION)
    second.get_by_label("Or owner (a team)").select_option(label=team)
    second.get_by_label("Due").fill((timezone.localdate() + dt.timedelta(days=60)).isoformat())
    second.get_by_label("Kind").select_option("structural_fix")
    third = group(page, "Action 3")
    third.get_by_label("Title").fill(WRITTEN_ACTION)
    third.get_by_label("Owner as written").fill("operations")

    page.get_by_label("Concentration", exact=True).check()
    claim = group(page, "Pattern 1")
    claim.get_by_label("Pattern").select_option(label="Expiry no one owns")
    claim.get_by_label("Rationale").fill(
        "The renewal date was known for a year and owned by nobody."
    )

    page.get_by_role("button", name="Save review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)


def watch_for_server_errors(page: Page, failures: list[str]) -> Page:
    """Note every answer of the server that was an error of its own (5xx), scripts' too."""
    page.context.on(
        "response",
        lambda r: (
            failures.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 500 else None
        ),
    )
    return page


def review_panel(page: Page):
    return page.locator("#review-panel")


def test_a_team_of_three_reviews_publishes_and_follows_up_an_incident(
    new_page, login, browser, live_server, browser_events, mailoutbox
):
    author = person("ana", Role.AUTHOR)
    reviewer = person("ben", Role.REVIEWER)
    person("cleo", Role.ADMIN)
    platform = Group.objects.create(name="Platform team")
    author.groups.add(platform)
    overdue_since = timezone.localdate() - dt.timedelta(days=2)
    server_errors: list[str] = []

    # 1. The author writes the whole review in one save.
    ana = watch_for_server_errors(new_page(), server_errors)
    login(ana, "ana")
    write_the_review(ana, owner_username="ben", team="Platform team", overdue_since=overdue_since)
    incident = Incident.objects.get(title=TITLE)
    assert incident.version == 1
    assert incident.revisions.count() == 1
    assert incident.action_items.count() == 3
    assert incident.status == Incident.Status.DRAFT
    assert [e.text for e in incident.timeline.all()] == [text for _, text in STEPS]
    items = {a.title: a for a in incident.action_items.all()}
    assert set(items) == {OVERDUE_ACTION, TEAM_ACTION, WRITTEN_ACTION}
    assert items[OVERDUE_ACTION].owner_user == reviewer
    assert items[OVERDUE_ACTION].due == overdue_since
    assert items[TEAM_ACTION].owner_team == platform
    expect(ana.locator("section.workflow")).to_contain_text("Every required section is filled in.")

    # 2. She sends it to the reviewer, who finds the request in his inbox.
    ana.get_by_role("link", name="Send for review").click()
    ana.get_by_label("ben", exact=True).check()
    ana.get_by_role("button", name="Send for review").click()
    expect(ana.get_by_text("Sent for review.")).to_be_visible()

    ben = watch_for_server_errors(new_page(), server_errors)
    login(ben, "ben")
    expect(ben.locator(".account")).to_contain_text("Inbox 1 unread")
    ben.get_by_role("link", name="Inbox").click()
    request = ben.locator("li.notification").filter(has_text=f"asked you to review “{TITLE}”")
    expect(request).to_have_count(1)
    request.get_by_role("button", name="Open").click()
    expect(ben.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(ben.locator(".account")).not_to_contain_text("unread")
    # The reviewer's panel (approve, request changes, publish) fits a phone too.
    ben.set_viewport_size({"width": 390, "height": 844})
    expect(review_panel(ben).get_by_label("What should change")).to_be_visible()
    assert ben.evaluate("document.documentElement.scrollWidth") <= 390
    ben.set_viewport_size({"width": 1280, "height": 720})
    assert any(
        m.to == ["ben@example.com"] and f"asked you to review “{TITLE}”" in m.body
        for m in mailoutbox
    )

    # 3. He asks for changes; publishing is refused while they are outstanding.
    note = "Say how the expiry reminder was configured and who received it."
    review_panel(ben).get_by_label("What should change").fill(note)
    review_panel(ben).get_by_role("button", name="Request changes").click()
    expect(ben.get_by_text("Changes requested; the author has been told.")).to_be_visible()
    review_panel(ben).get_by_role("button", name="Publish").click()
    expect(ben.get_by_role("alert").filter(has_text="Not published yet.")).to_contain_text(
        "the changes ben asked for"
    )
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.IN_REVIEW

    ana.goto(incident.get_absolute_url())
    expect(ana.locator(".account")).to_contain_text("Inbox 1 unread")
    ana.get_by_role("link", name="Inbox").click()
    expect(ana.locator("li.notification").filter(has_text="asked for changes")).to_contain_text(
        note
    )
    ana.goto(incident.get_absolute_url())
    expect(review_panel(ana)).to_contain_text("Changes requested")
    expect(review_panel(ana)).to_contain_text(note)
    expect(review_panel(ana).locator(".still-needed")).to_contain_text("the changes ben asked for")
    expect(review_panel(ana).get_by_role("button", name="Publish")).to_have_count(0)

    # 4. She fixes the narrative; he approves the new version; the admin publishes.
    ana.get_by_role("link", name="Edit this review").click()
    ana.get_by_label("Narrative", exact=True).fill(
        "Nobody owned the renewal. The expiry reminder was set up in 2024 to go to the "
        "former infrastructure lead's address, which nobody has read since they left."
    )
    ana.get_by_role("button", name="Save review").click()
    expect(ana.get_by_text("Review saved.")).to_be_visible()
    fixed = Incident.objects.get(pk=incident.pk)
    assert fixed.status == Incident.Status.IN_REVIEW
    assert fixed.version > 2
    assert fixed.timeline.count() == 6
    assert fixed.action_items.count() == 3

    ben.goto(incident.get_absolute_url())
    expect(ben.locator("main")).to_contain_text("former infrastructure lead")
    review_panel(ben).get_by_role("button", name=f"Approve version {fixed.version}").click()
    expect(ben.get_by_text("Approved.", exact=True)).to_be_visible()

    cleo = watch_for_server_errors(new_page(), server_errors)
    login(cleo, "cleo")
    cleo.goto(incident.get_absolute_url())
    expect(review_panel(cleo)).to_contain_text("Nothing is missing: it can be published.")
    review_panel(cleo).get_by_role("button", name="Publish").click()
    expect(cleo.get_by_text("Published.", exact=True)).to_be_visible()
    expect(cleo.locator(".badges")).to_contain_text("Published")
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.PUBLISHED

    # 5. The owner of an action item sees it, is reminded once that it is overdue, and
    # finds it under 'Overdue'.
    ben.goto("/")
    ben.get_by_role("navigation", name="Main").get_by_role("link", name="My action items").click()
    mine = ben.locator("li.card")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text(OVERDUE_ACTION)
    expect(mine).to_contain_text(TITLE)

    def reminder_emails():
        return [
            m
            for m in mailoutbox
            if m.to == ["ben@example.com"] and "Action item overdue" in m.subject
        ]

    assert reminder_emails() == []
    # As the beat schedule has a worker do it: the task found by its name, twice.
    celery_app.loader.import_default_modules()
    beat = settings.CELERY_BEAT_SCHEDULE["send-action-reminders"]
    for _ in range(2):
        celery_app.tasks[beat["task"]].apply_async(**beat.get("options", {}))
    reminders = reminder_emails()
    assert len(reminders) == 1, [m.subject for m in mailoutbox]
    assert OVERDUE_ACTION in reminders[0].body
    assert TITLE in reminders[0].body
    # Nobody else was told of it: the team's item is not due for weeks.
    assert not [m for m in mailoutbox if "Action item" in m.subject and m not in reminders]

    ben.get_by_role("navigation", name="Main").get_by_role("link", name="Overdue").click()
    overdue = ben.locator("li.card").filter(has_text=OVERDUE_ACTION)
    expect(overdue).to_have_count(1)
    expect(overdue).to_contain_text("Overdue since")
    expect(ben.locator("li.card")).to_have_count(1)
    ben.get_by_role("link", name="Inbox").click()
    expect(ben.locator("li.notification").filter(has_text="Action item overdue")).to_contain_text(
        OVERDUE_ACTION
    )

    # 6. The PDF export holds the review.
    cleo.goto(incident.get_absolute_url())
    pdf_link = cleo.get_by_role("link", name="Export as PDF")
    response = cleo.request.get(pdf_link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    body = response.body()
    assert body.startswith(b"%PDF-")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    text = " ".join(text.split())
    assert TITLE in text
    assert STEPS[4][1] in text
    assert OVERDUE_ACTION in text

    # 7. On a 390 px phone no page scrolls sideways.
    phone = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    browser_events.watch(phone)
    try:
        small = watch_for_server_errors(phone.new_page(), server_errors)
        login(small, "ana")
        for url in [
            reverse("incidents:list"),
            incident.get_absolute_url(),
            reverse("incidents:edit", args=[incident.pk]),
            reverse("incidents:create"),
            reverse("actions:mine"),
            reverse("actions:overdue"),
            reverse("notifications:inbox"),
        ]:
            small.goto(url)
            width = small.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{url} is {width}px wide on a 390px screen"
    finally:
        phone.close()

    assert browser_events.page_errors == []
    assert server_errors == []
