"""Every page works under the Content-Security-Policy: no violation, no script error.

The policy forbids inline script and style; a page that relied on one would silently lose
it in a real browser, so Chromium's console is the judge.
"""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from reports.services import params_from_json, report_generate, report_request
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _violations(browser_events) -> list[str]:
    return [
        line
        for line in browser_events.console + browser_events.page_errors
        if "Content Security Policy" in line or "Content-Security-Policy" in line
    ]


def test_the_main_pages_and_the_api_docs_run_with_no_csp_violation(
    page, login, save_review, browser_events
):
    user = UserFactory(username="reader")
    incident = save_review(
        title="Config push pinned every edge node",
        # Everything an author can write that renders to markup: an aligned table, a
        # footnote, fenced code, a definition list.
        summary=(
            "| region | errors |\n|:--|--:|\n| eu | 502 |\n\n"
            "It spread[^1].\n\n[^1]: In seconds.\n\n```\npush()\n```\n\n"
            "Blast radius\n: Every edge node.\n"
        ),
        started_at=datetime(2025, 3, 1, tzinfo=UTC),
        patterns=["fast-global-propagation"],
        components=["Edge config"],
        by=user,
    )
    save_review(
        title="Regex pinned the proxies",
        started_at=datetime(2025, 4, 1, tzinfo=UTC),
        patterns=["fast-global-propagation"],
        components=["WAF rules"],
        by=user,
    )
    report = report_request(
        by=user,
        params=params_from_json({"since": "2025-01-01T00:00:00Z", "until": "2025-07-01T00:00:00Z"}),
    )
    report_generate(report_id=report.pk)

    login(page, "reader")
    for url in [
        "/",
        incident.get_absolute_url(),
        reverse("incidents:edit", args=[incident.pk]),
        reverse("incidents:create"),
        "/patterns/fast-global-propagation/",
        "/recurrences/",
        "/reports/",
        reverse("reports:detail", args=[report.pk]),
        "/api/docs/",
    ]:
        page.goto(url)
        page.wait_for_load_state("networkidle")
    # The charts drew (Chart.js under the policy) and the Swagger UI rendered the schema.
    page.goto(reverse("reports:detail", args=[report.pk]))
    page.wait_for_function(
        "document.querySelector('canvas') && document.querySelector('canvas').width > 0"
    )
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
    page.goto(reverse("incidents:edit", args=[incident.pk]))
    page.get_by_label("Summary").fill("It was **bold**.")
    page.wait_for_timeout(1200)  # the assistant's preview request
    assert _violations(browser_events) == []
    assert browser_events.page_errors == []


def test_an_injected_inline_script_is_refused_by_the_browser(page, browser_events):
    page.goto("/login/")
    ran = page.evaluate(
        """() => { window.__ran = false; const s = document.createElement('script');
                   s.textContent = 'window.__ran = true'; document.body.appendChild(s);
                   return window.__ran; }"""
    )
    assert ran is False
    assert _violations(browser_events)
