"""Pages stay readable on a phone: nothing wider than the screen forces sideways scrolling."""

import pytest
from django.urls import reverse

from incidents.models import Incident
from taxonomy.models import StructuralPattern
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [390, 1280])
def test_pages_fit_a_phone_and_a_laptop(browser, live_server, login, save_review, width):
    user = UserFactory(username="reader")
    incident = save_review(
        title="A rather long incident title that has to wrap on a narrow phone screen somehow",
        summary="`" + "x" * 200 + "` a long code span and **Markdown**.",
        patterns=["fast-global-propagation"],
        components=["A component with a long name", "Another component"],
        by=user,
    )
    # A similar review sharing two patterns, each quoted as a long sentence: "Have we seen
    # this before?" on the review page then lists several pieces of evidence under one heading.
    phrases = [
        max(StructuralPattern.objects.get(slug=slug).entry["match_terms"], key=len)
        for slug in ("fast-global-propagation", "hidden-shared-dependency")
    ]
    sentence = " ".join(
        f"Over the long afternoon the configuration {phrase} went on and on without anyone "
        "noticing what was happening to the fleet while the dashboards stayed green."
        for phrase in phrases
    )
    for title in ("First time the structure showed", "Second time the structure showed"):
        save_review(title=title, summary=sentence, patterns=["fast-global-propagation"], by=user)
    similar = Incident.objects.get(title="Second time the structure showed")
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 844}
    )
    page = context.new_page()
    try:
        login(page, "reader")
        for url in [
            "/",
            incident.get_absolute_url(),
            similar.get_absolute_url(),
            reverse("incidents:edit", args=[incident.pk]),
            reverse("incidents:create"),
            "/patterns/fast-global-propagation/",
            "/recurrences/",
            "/reports/",
        ]:
            page.goto(url)
            if url == reverse("incidents:edit", args=[incident.pk]):
                # The live preview renders the summary's long code span once it is fetched;
                # measure after it, or the page is measured without its widest part.
                page.wait_for_selector("#preview code", timeout=10_000)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"{url} is {overflow}px wider than a {width}px screen"
    finally:
        context.close()
