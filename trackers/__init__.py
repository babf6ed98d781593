"""Tracker sync for action items: GitHub Issues, Jira Cloud and Linear.

See docs/integrations/trackers.md.
"""
