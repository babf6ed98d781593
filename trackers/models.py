"""Connections to issue trackers, and the link from one action item to one tracker issue."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from common.encryption import EncryptedTextField
from incidents.models import ActionItem

# Where each kind of tracker answers when the connection names no base URL of its own. Jira
# has no shared host: every Jira Cloud site has its own (https://<site>.atlassian.net).
DEFAULT_BASE_URLS = {
    "github": "https://api.github.com",
    "jira": "",
    "linear": "https://api.linear.app",
}


class TrackerConnection(models.Model):
    """One tracker project Seams may create issues in and read their status from: a GitHub
    repository, a Jira project or a Linear team. Made by an admin; the token and the webhook
    secret are stored encrypted (`common.encryption`), so a database dump does not give them
    away."""

    class Kind(models.TextChoices):
        GITHUB = "github", "GitHub Issues"
        JIRA = "jira", "Jira Cloud"
        LINEAR = "linear", "Linear"

    name = models.CharField(max_length=100, unique=True, help_text="Shown to people choosing it.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    base_url = models.URLField(
        blank=True,
        help_text=(
            "The API's address. Empty: https://api.github.com or https://api.linear.app; "
            "for Jira, your site (https://your-site.atlassian.net)."
        ),
    )
    project = models.CharField(
        max_length=200,
        help_text=(
            "GitHub: owner/repository. Jira: the project key (OPS). Linear: the team key (ENG)."
        ),
    )
    username = models.CharField(
        max_length=254,
        blank=True,
        help_text="Jira only: the e-mail address the API token belongs to.",
    )
    token = EncryptedTextField(
        blank=True,
        help_text="GitHub: a token; Jira: an API token; Linear: an API key. Stored encrypted.",
    )
    webhook_secret = EncryptedTextField(
        blank=True, help_text="The secret the tracker signs its webhooks with. Stored encrypted."
    )
    issue_type = models.CharField(
        max_length=100, blank=True, help_text="Jira only: the issue type to create (empty: Task)."
    )
    allow_restricted = models.BooleanField(
        default=False,
        help_text=(
            "Issues may be created here for action items of restricted reviews (their title "
            "and a link back are sent to this tracker)."
        ),
    )
    enabled = models.BooleanField(default=True)
    # Off by default: a tracker's workflow may have steps (review, verification) that an
    # item closed in Seams should not skip, so sending the change there is chosen per tracker.
    close_from_seams = models.BooleanField(
        "close and reopen issues from Seams",
        default=False,
        help_text=(
            "When a linked item is closed (done or won't do) or reopened in Seams, do the same "
            "to its issue. Off: status flows only from the tracker to Seams."
        ),
    )
    # Closing or reopening an item because the tracker said so is a change like any other:
    # it is recorded as made by this account (made for the connection, never able to sign in).
    acting_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Recorded as who closed an item the tracker closed. Empty: one is made.",
    )
    # The last successful poll of the trackers that are polled by "updated since".
    polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def api_url(self) -> str:
        """The base URL to call, without a trailing slash."""
        return (self.base_url or DEFAULT_BASE_URLS[self.kind]).rstrip("/")


class TrackedIssue(models.Model):
    """The one tracker issue an action item is linked to, and what Seams last knew of it.

    A row is written *before* an issue is created (state `creating`, with a `marker` the
    issue will carry), so a retried job finds the issue a lost answer had created instead of
    creating a second one.
    """

    class State(models.TextChoices):
        CREATING = "creating", "Being created"
        LINKING = "linking", "Being linked"
        LINKED = "linked", "Linked"
        FAILED = "failed", "Failed"

    class Remote(models.TextChoices):
        UNKNOWN = "", "Unknown"
        OPEN = "open", "Open"
        DONE = "done", "Done"
        WONT_DO = "wont_do", "Closed, not done"

    action_item = models.OneToOneField(
        ActionItem, on_delete=models.CASCADE, related_name="tracked_issue"
    )
    connection = models.ForeignKey(
        TrackerConnection, on_delete=models.CASCADE, related_name="issues"
    )
    state = models.CharField(max_length=10, choices=State.choices)
    # Put in the issue when Seams creates it (GitHub: a comment in its body; Jira: a label;
    # Linear: the issue's own id), to find it again after a lost answer.
    marker = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=100, blank=True)  # Jira's and Linear's ids
    key = models.CharField(max_length=100, blank=True)  # "#12", "OPS-12", "ENG-12"
    number = models.PositiveIntegerField(null=True, blank=True)  # GitHub's issue number
    url = models.URLField(max_length=500, blank=True)
    remote_state = models.CharField(max_length=10, choices=Remote.choices, blank=True)
    remote_status = models.CharField(max_length=100, blank=True)  # as the tracker names it
    # When the tracker last changed the issue: an older event arriving late changes nothing.
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    remote_actor = models.CharField(max_length=200, blank=True)
    etag = models.CharField(max_length=200, blank=True)
    # The item's status when Seams last agreed with the tracker about it: a save that leaves
    # it as it was is no change to send, and a change the tracker made is never sent back.
    item_status_seen = models.CharField(max_length=20, blank=True)
    # When a change made in Seams began waiting to be sent to the tracker (its job, or the
    # sweep, sends it); empty when nothing waits.
    push_wanted_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When the link was first asked for (a retry looks for its issue from then on), when it
    # was last asked for (the sweep's clock), and until when a job holds it.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    requested_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["state", "requested_at"]),
            models.Index(fields=["push_wanted_at"]),
        ]

    def __str__(self) -> str:
        return self.key or f"{self.connection} ({self.get_state_display()})"
