"""A notification: one thing one person is told, in the in-app inbox and by e-mail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Notification(models.Model):
    """Something a person should know about a review or an action item. It is shown in
    their inbox and e-mailed once (`emailed_at`). `key` makes telling idempotent: the same
    event told twice (a job retried, a reminder sweep run again) is one notification."""

    class Kind(models.TextChoices):
        REVIEW_REQUESTED = "review_requested", "Review requested"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        APPROVED = "approved", "Approved"
        COMMENT = "comment", "New comment"
        MENTION = "mention", "Mentioned"
        ACTION_DUE = "action_due", "Action item due soon"
        ACTION_OVERDUE = "action_overdue", "Action item overdue"
        INVITED = "invited", "Invited"
        WEBHOOK_DISABLED = "webhook_disabled", "Webhook switched off"
        TRACKER_LINK_FAILED = "tracker_link_failed", "Tracker link failed"
        TRACKER_SYNC_FAILED = "tracker_sync_failed", "Tracker issue not updated"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    # What it is about: a review (most kinds) and, for reminders, one of its action items.
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    action_item = models.ForeignKey(
        "incidents.ActionItem", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.CharField(max_length=500)
    url = models.CharField(max_length=500, blank=True)
    key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # Set instead of `emailed_at` when the e-mail will never be sent: the recipient may no
    # longer see the review it names. The sweep leaves such rows alone.
    email_withheld_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.recipient_id}: {self.text}"
