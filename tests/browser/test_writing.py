"""Writing a review in a real browser: the form and its assistant, publishing, concurrent
edits, script injection and restricted reviews, each checked by what a person would see."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from incidents import services
from incidents.models import Incident
from taxonomy.models import StructuralPattern

from ..factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def section(page: Page, heading: str) -> Locator:
    """The review page's section under the level-2 heading `heading`."""
    return page.locator("section").filter(
        has=page.get_by_role("heading", name=heading, exact=True, level=2)
    )


def approver():
    """A user who may publish reviews without being their named reviewer."""
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="publish_incident"))
    return user


def status_badge(page: Page) -> Locator:
    return page.get_by_role("list", name="Severity, status and visibility").locator(
        ".badge[class*=status-]"
    )


# --- 1. Writing a complete review, then publishing it ---------------------------------------


def test_write_a_complete_review_with_the_assistant_then_publish_it(
    page, login, browser_events, settings
):
    # About writing: the approvals publishing waits for are tested in test_reviewflow_*.
    settings.SEAMS_REQUIRED_APPROVALS = 0
    user = approver()
    login(page, user.username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Write a review").click()
    expect(page.get_by_role("heading", name="Write a review", level=1)).to_be_visible()
    expect(page.get_by_role("complementary", name="Writing assistant")).to_be_visible()

    the_incident = page.get_by_role("group", name="The incident", exact=True)
    the_incident.get_by_label("Title").fill("Expired certificate took the API gateway down")
    the_incident.get_by_label("Severity").select_option(label="SEV2 — major")
    the_incident.get_by_label("Started at").fill("2026-11-20T09:30")
    page.get_by_label("Summary", exact=True).fill(
        "The API gateway served an *expired* certificate for 40 minutes."
    )
    page.get_by_label("Impact", exact=True).fill("Every API client saw TLS errors.")

    # The assistant previews the section being typed and points at wording that blames.
    narrative = page.get_by_label("Narrative", exact=True)
    narrative.fill("Certificates were rotated by hand. **Renewal** was a calendar reminder.")
    narrative.press_sequentially(" The operator failed to notice the alarm.")
    expect(page.locator("#preview-label")).to_contain_text("Narrative")
    expect(page.locator("#preview strong")).to_have_text("Renewal")
    hints = page.locator("#live-hints")
    expect(hints).to_contain_text("Narrative: “failed to”")
    expect(hints.locator("li.hint")).not_to_have_count(0)

    event = page.get_by_role("group", name="Event 1", exact=True)
    event.get_by_label("When").fill("2026-11-20T09:42")
    event.get_by_label("Kind").select_option(label="Decision")
    event.get_by_label("What happened").fill("On-call restarted the gateway pods.")
    event.get_by_label("Why it looked right at the time").fill(
        "A restart had cleared TLS errors twice that month."
    )
    page.get_by_role("group", name="Factor 1", exact=True).get_by_label("Contributing factor").fill(
        "Renewal depended on one person's calendar."
    )
    page.get_by_role("button", name="Add contributing factor").click()
    page.get_by_role("group", name="Factor 2", exact=True).get_by_label("Contributing factor").fill(
        "The expiry alarm went to an unwatched mailbox."
    )

    action = page.get_by_role("group", name="Action 1", exact=True)
    action.get_by_label("Title").fill("Renew certificates automatically")
    action.get_by_label("Kind").select_option(label="Structural fix")
    action.get_by_label("Leverage level").select_option(label="6. Information flows")
    action.get_by_label("Pattern").select_option(label="Buried assumption")

    page.get_by_label("Cascade", exact=True).check()
    claim = page.get_by_role("group", name="Pattern 1", exact=True)
    claim.get_by_label("Pattern").select_option(label="Buried assumption")
    claim.get_by_label("Rationale").fill("Everyone assumed that renewal was automatic.")
    page.get_by_label("Components involved").fill("API gateway, Certificate manager")

    page.get_by_role("button", name="Save review").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Expired certificate took the API gateway down"
    )
    expect(page.get_by_role("status").filter(has_text="Review saved.")).to_be_visible()
    expect(status_badge(page)).to_have_text("Draft")
    expect(page.locator(".badge.sev-sev2")).to_have_text("SEV2 — major")
    expect(section(page, "Summary").locator("em")).to_have_text("expired")
    expect(section(page, "Impact")).to_contain_text("Every API client saw TLS errors.")
    expect(section(page, "Narrative").locator("strong")).to_have_text("Renewal")
    timeline = section(page, "Timeline")
    expect(timeline).to_contain_text("Decision")
    expect(timeline).to_contain_text("On-call restarted the gateway pods.")
    expect(timeline).to_contain_text("A restart had cleared TLS errors twice that month.")
    factors = section(page, "Contributing factors").get_by_role("listitem")
    expect(factors).to_have_text(
        [
            "Renewal depended on one person's calendar.",
            "The expiry alarm went to an unwatched mailbox.",
        ]
    )
    row = section(page, "Action items").get_by_role("row", name="Renew certificates automatically")
    expect(row).to_contain_text("Structural fix")
    expect(row).to_contain_text("6. Information flows")
    expect(row).to_contain_text("Buried assumption")
    expect(section(page, "Emergent shapes")).to_contain_text("Cascade")
    patterns = section(page, "Structural patterns")
    expect(patterns.get_by_role("heading", name="Buried assumption")).to_be_visible()
    expect(patterns).to_contain_text("Everyone assumed that renewal was automatic.")
    expect(section(page, "Components").get_by_role("listitem")).to_have_text(
        ["API gateway", "Certificate manager"]
    )
    workflow = section(page, "Review workflow")
    expect(workflow).to_contain_text("Every required section is filled in.")

    workflow.get_by_role("button", name="Publish").click()

    expect(page.get_by_role("status").filter(has_text="Published.")).to_be_visible()
    expect(status_badge(page)).to_have_text("Published")
    expect(section(page, "Review workflow")).to_have_count(0)
    assert browser_events.page_errors == []
    assert browser_events.dialogs == []


# --- 2. Publishing an incomplete draft ------------------------------------------------------


def test_publishing_an_incomplete_draft_says_what_is_still_missing(page, login, save_review):
    user = approver()
    draft = save_review(title="Half-written review", summary="The queue backed up.", by=user)
    login(page, user.username)
    page.goto(reverse("incidents:detail", args=[draft.pk]))

    page.get_by_role("button", name="Publish").click()

    alert = page.locator(".messages").get_by_role("alert")
    expect(alert).to_contain_text("Not published yet. Still missing:")
    for missing in (
        "impact",
        "narrative",
        "at least one timeline event",
        "at least one contributing factor",
        "at least one action item",
        "at least one emergent shape",
        "at least one structural pattern with a rationale",
    ):
        expect(alert).to_contain_text(missing)
    expect(alert).not_to_contain_text("summary")
    expect(status_badge(page)).to_have_text("Draft")
    expect(section(page, "Review workflow").locator("ul.missing li")).to_have_count(7)


# --- 3. Two people editing the same review --------------------------------------------------


def test_a_save_over_someone_elses_newer_save_keeps_the_text_and_shows_what_changed(
    page, new_page, login, save_review
):
    # Whole minutes: the form's time inputs have no seconds, so a save keeps them unchanged.
    started = timezone.now().replace(second=0, microsecond=0)
    alice, bob = UserFactory(), UserFactory()
    review = save_review(
        title="Queue backlog during the sale",
        narrative="The queue grew.",
        started_at=started,
        by=alice,
    )
    review.reviewers.add(bob)  # the author and a named reviewer may both edit
    alice_page, bob_page = page, new_page()
    login(alice_page, alice.username)
    login(bob_page, bob.username)
    edit_url = reverse("incidents:edit", args=[review.pk])
    alice_page.goto(edit_url)
    bob_page.goto(edit_url)

    alice_page.get_by_role("group", name="The incident", exact=True).get_by_label("Title").fill(
        "Queue backlog during the spring sale"
    )
    alice_page.get_by_role("button", name="Save review").click()
    expect(alice_page.get_by_role("heading", level=1)).to_have_text(
        "Queue backlog during the spring sale"
    )

    bobs_text = "Bob's telling: the consumers were throttled by a shared rate limit."
    bob_page.get_by_label("Narrative", exact=True).fill(bobs_text)
    bob_page.get_by_role("button", name="Save review").click()

    conflict = bob_page.locator("#conflict")
    expect(conflict).to_be_visible()
    expect(conflict.get_by_role("heading", level=2)).to_have_text(
        "Someone else saved this review while you were editing"
    )
    expect(bob_page.get_by_label("Narrative", exact=True)).to_have_value(bobs_text)
    expect(conflict.get_by_role("heading", name="What changed meanwhile")).to_be_visible()
    expect(conflict.get_by_role("heading", level=4)).to_have_text(["Title"])
    expect(conflict.locator("table.diff")).to_contain_text("Queue backlog during the spring sale")

    # Having compared, Bob can save: the form now expects the stored version.
    bob_page.get_by_role("button", name="Save review").click()
    expect(bob_page.get_by_role("status").filter(has_text="Review saved.")).to_be_visible()
    expect(section(bob_page, "Narrative")).to_contain_text("the consumers were throttled")


# --- 4. Script injection through every Markdown field ---------------------------------------

PAYLOADS = "\n\n".join(
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<img src=x onerror="window.__xss=1">',
        "[xss-link](javascript:alert(1))",
        '<a href="javascript:window.__xss=1">xss-anchor</a>',
        "![xss-image](javascript:alert(1))",
        '<svg onload="window.__xss=1"></svg>',
        '<iframe src="javascript:alert(1)"></iframe>',
        "<details open ontoggle=alert(1)><summary>xss-details</summary></details>",
        '<p style="background:url(javascript:alert(1))" onclick="window.__xss=1">xss-p</p>',
    ]
)
XSS_LINK_TEXTS = ("xss-link", "xss-anchor", "xss-p")
ACTIVE_ELEMENTS = "script, iframe, svg, object, embed, [onerror], [onload], [ontoggle], [onclick]"


def _payload(marker: str) -> str:
    return f"Marker {marker}.\n\n{PAYLOADS}"


def _xss_review(user) -> Incident:
    """A review whose every Markdown field (and comment) carries the payloads."""
    pattern = StructuralPattern.objects.get(slug="buried-assumption")
    content = services.ReviewContent(
        fields={
            "title": 'XSS review <img src=x onerror="window.__xss=1">',
            "started_at": timezone.now(),
            **{
                name: _payload(name)
                for name in ("summary", "impact", "narrative", "went_well", "where_lucky")
            },
        },
        timeline=[
            services.TimelineEntry(
                occurred_at=timezone.now(),
                text=_payload("event"),
                why_reasonable=_payload("why"),
            )
        ],
        factors=[_payload("factor")],
        patterns=[services.PatternClaim(pattern=pattern, rationale=_payload("rationale"))],
    )
    incident = services.incident_create(by=user, content=content)
    services.comment_add(incident=incident, by=user, body=_payload("comment"))
    return incident


def _assert_no_script_ran(page: Page, browser_events) -> None:
    # A control image proves error handlers do fire in this page; the payloads' images were
    # inserted before it, so theirs would have fired by the time it has.
    page.evaluate(
        "document.body.insertAdjacentHTML('beforeend',"
        ' \'<img src="/no-such-image" onerror="window.__control=1">\')'
    )
    page.wait_for_function("window.__control === 1")
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert browser_events.dialogs == []


def _click_payload_links(page: Page, scope: Locator) -> None:
    for text in XSS_LINK_TEXTS:
        for element in scope.get_by_text(text, exact=True).all():
            element.click()
    expect(scope.locator("a[href^='javascript:' i]")).to_have_count(0)


def test_markdown_payloads_run_no_script_on_the_review_page_or_in_the_live_preview(
    new_page, login, browser_events, django_capture_on_commit_callbacks
):
    # The page's CSP would block inline handlers whatever the sanitiser let through, so this
    # test switches it off: the sanitiser must hold on its own (tests/browser/test_csp.py
    # checks the policy as the second layer).
    page = new_page(bypass_csp=True)
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        incident = _xss_review(user)
    login(page, user.username)

    detail_url = page.goto(reverse("incidents:detail", args=[incident.pk])).url
    article = page.locator("article.incident")
    markers = ("summary", "impact", "narrative", "event", "why", "factor", "went_well",
               "where_lucky", "rationale", "comment")  # fmt: skip
    for marker in markers:
        expect(article).to_contain_text(f"Marker {marker}.")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        'XSS review <img src=x onerror="window.__xss=1">'
    )
    expect(article.locator(ACTIVE_ELEMENTS)).to_have_count(0)
    _click_payload_links(page, article)
    expect(page).to_have_url(detail_url)
    _assert_no_script_ran(page, browser_events)

    # The editor's live preview renders each section through the same sanitiser.
    page.goto(reverse("incidents:edit", args=[incident.pk]))
    preview = page.locator("#preview")
    fields = {
        "summary": page.get_by_label("Summary", exact=True),
        "impact": page.get_by_label("Impact", exact=True),
        "narrative": page.get_by_label("Narrative", exact=True),
        "went_well": page.get_by_label("What went well", exact=True),
        "where_lucky": page.get_by_label("Where we got lucky", exact=True),
        "factor": page.get_by_role("group", name="Factor 1", exact=True).get_by_label(
            "Contributing factor"
        ),
        "rationale": page.get_by_role("group", name="Pattern 1", exact=True).get_by_label(
            "Rationale"
        ),
    }
    for marker, textarea in fields.items():
        textarea.focus()
        expect(preview).to_contain_text(f"Marker {marker}.")
        expect(preview.locator(ACTIVE_ELEMENTS)).to_have_count(0)
        _click_payload_links(page, preview)
    _assert_no_script_ran(page, browser_events)

    # And a fresh form, with the payload typed in.
    page.goto(reverse("incidents:create"))
    page.get_by_label("Narrative", exact=True).fill(_payload("typed"))
    expect(preview).to_contain_text("Marker typed.")
    _click_payload_links(page, preview)
    _assert_no_script_ran(page, browser_events)


# --- 5. Restricted reviews ------------------------------------------------------------------


def test_a_restricted_review_is_invisible_outside_its_group_even_to_the_assistant(
    page, new_page, login, save_review
):
    group = GroupFactory(name="security")
    member, outsider = UserFactory(), UserFactory()
    member.groups.add(group)
    term = StructuralPattern.objects.get(slug="alert-fatigue").entry["match_terms"][0]
    # Both show the pattern, by their link and by their words, so either would be suggested.
    summary = f"Pages arrived all night; {term} set in and the alarm was missed."
    open_review = save_review(
        title="Paging noise hid the disk alarm", summary=summary, patterns=["alert-fatigue"]
    )
    secret = save_review(
        title="Intrusion alert lost in the noise", summary=summary, patterns=["alert-fatigue"]
    )
    Incident.objects.filter(pk=secret.pk).update(restricted_to=group)
    secret_url = reverse("incidents:detail", args=[secret.pk])

    def write_matching_text(page: Page) -> Locator:
        page.goto(reverse("incidents:create"))
        page.get_by_label("Narrative", exact=True).fill(
            f"On-call had {term}: the disk alarm was one page among dozens that night."
        )
        expect(page.locator("#suggested-patterns")).to_contain_text("Alert fatigue")
        similar = page.locator("#similar-incidents")
        expect(similar).to_contain_text(open_review.title)
        return similar

    login(page, outsider.username)
    response = page.goto(secret_url)
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.locator("main")).not_to_contain_text(secret.title)

    page.goto(reverse("incidents:list"))
    titles = page.locator("a.incident-title")
    expect(titles).to_have_text([open_review.title])

    similar = write_matching_text(page)
    expect(similar).not_to_contain_text(secret.title)
    expect(similar.get_by_role("link")).to_have_count(1)

    member_page = new_page()
    login(member_page, member.username)
    member_page.goto(secret_url)
    expect(member_page.get_by_role("heading", level=1)).to_have_text(secret.title)
    expect(member_page.locator(".badge.restricted")).to_have_text("Restricted to security")
    member_page.goto(reverse("incidents:list"))
    expect(member_page.locator("a.incident-title")).to_contain_text(
        [secret.title, open_review.title]
    )
    member_similar = write_matching_text(member_page)
    expect(member_similar).to_contain_text(secret.title)
