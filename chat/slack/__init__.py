"""The Slack adapter: request signatures, the three request URLs Slack calls (slash command,
Events API, interactivity), Block Kit rendering, and the answers posted back to Slack
(`response_url`, Web API `chat.unfurl`). Setup: docs/integrations/slack.md."""
