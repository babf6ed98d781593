"""Browser tests: Debian's Chromium driven through Playwright against a live Django server."""
