"""Asking Seams from a chat tool: "have we seen this before?", a review, a pattern, and link
previews of review URLs.

The core (`commands`, `answers`, `readers`, `services`) knows no chat platform: it parses a
command into plain data and answers with plain data. Each platform has an adapter package
(`chat.slack`) that verifies its requests, speaks its HTTP protocol and turns answers into
its message format (Block Kit for Slack). Another platform is another adapter.
"""
