"""The action-item pages fit a phone: no sideways scrolling at 390 px."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import services
from taxonomy.models import LeverageLevel
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [390, 1280])
def test_action_item_pages_fit_a_phone_and_a_laptop(browser, live_server, login, width):
    user = UserFactory(username="reader")
    long_title = "Stop a single malformed configuration file from propagating worldwide " * 2
    services.incident_create(
        by=user,
        content=services.ReviewContent(
            fields={
                "title": "A rather long incident title that has to wrap on a narrow phone",
                "started_at": timezone.now(),
            },
            actions=[
                services.ActionEntry(
                    title=long_title,
                    owner_user=user,
                    due=timezone.localdate() - dt.timedelta(days=3),
                    tracker_url="https://tracker.example.com/" + "x" * 120,
                    leverage_level=LeverageLevel.objects.order_by("number").first(),
                )
            ],
        ),
    )
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 844}
    )
    page = context.new_page()
    try:
        login(page, "reader")
        for url in [reverse("actions:mine"), reverse("actions:overdue") + "?mine=true"]:
            page.goto(url)
            assert page.get_by_role("button", name="Mark done").count() == 1
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"{url} is {overflow}px wider than a {width}px screen"
    finally:
        context.close()
