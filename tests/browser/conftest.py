"""Fixtures for the browser tests: one Chromium per session, a fresh context per test.

The browser is Debian's Chromium (`make browser` installs it; SEAMS_CHROMIUM points elsewhere).
Playwright never downloads one. Every page records the dialogs it opened (and dismisses them),
its console messages and its uncaught errors, so tests can assert that no script ran that
should not have.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.urls import reverse

# Playwright's sync API runs an event loop in this thread; Django's async-safety check would
# then refuse the test's own database queries.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    expect,
    sync_playwright,
)

PASSWORD = "correct horse battery staple"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# The assistant waits ~500 ms after typing before it asks the server; leave room for that.
expect.set_options(timeout=10_000)


@receiver(connection_created)
def _read_without_table_locks(sender, connection, **kwargs) -> None:
    """The live server's threads share the test database with the test through SQLite's
    in-memory shared cache, where a reader meets a writer's table lock at once ("database
    table is locked": the writing assistant's request answered 500 while a save was being
    written). Seams' own SQLite file is in write-ahead-log mode, where a reader never waits
    for a writer; reading without table locks gives the shared cache the same behaviour.
    The pragma does nothing outside shared-cache mode."""
    if connection.vendor == "sqlite" and "mode=memory" in str(connection.settings_dict["NAME"]):
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = 1")


@dataclass
class BrowserEvents:
    """What the pages of one test did besides rendering: dialogs, console lines, errors."""

    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def watch(self, context: BrowserContext) -> None:
        def on_dialog(dialog) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        context.on("dialog", on_dialog)
        context.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))
        context.on("weberror", lambda web_error: self.page_errors.append(str(web_error.error)))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = os.environ.get("SEAMS_CHROMIUM", "/usr/bin/chromium")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(
            f"No Chromium at {path}. The browser tests use Debian's chromium: run `make browser` "
            "to install it, or point SEAMS_CHROMIUM at a Chromium binary.",
            pytrace=False,
        )
    with sync_playwright() as p:
        try:
            chromium = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        except Exception as error:  # the message of a failed launch is long; keep the cause
            pytest.fail(
                f"Chromium at {path} did not start ({error}). `make browser` installs Debian's "
                "chromium; SEAMS_CHROMIUM points at another binary.",
                pytrace=False,
            )
        yield chromium
        chromium.close()


@pytest.fixture
def browser_events() -> BrowserEvents:
    """Dialogs, console messages and page errors of every page this test opened."""
    return BrowserEvents()


@pytest.fixture
def new_page(browser, live_server, browser_events) -> Iterator[Callable[[], Page]]:
    """Open a page in a new browser context (its own cookies: a separate person)."""
    contexts: list[BrowserContext] = []

    def _new_page(*, bypass_csp: bool = False) -> Page:
        # `bypass_csp` lets a test check one defence on its own (the sanitiser) without
        # the Content-Security-Policy hiding what the sanitiser let through.
        context = browser.new_context(base_url=live_server.url, bypass_csp=bypass_csp)
        context.set_default_timeout(10_000)
        browser_events.watch(context)
        contexts.append(context)
        return context.new_page()

    yield _new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page) -> Page:
    return new_page()


@pytest.fixture
def login() -> Callable[..., None]:
    """Log in through the login form, as a person would."""

    def _login(page: Page, username: str, password: str = PASSWORD) -> None:
        page.goto(reverse("login"))
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator(".account")).to_contain_text(f"Signed in as {username}")

    return _login
