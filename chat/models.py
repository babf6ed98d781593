"""Who is asking from a chat tool, and the questions waiting for their answer."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from common.encryption import EncryptedTextField


class Platform(models.TextChoices):
    """The chat platforms Seams answers on."""

    SLACK = "slack", "Slack"


class ChatIdentity(models.Model):
    """A chat user linked to a Seams account: their questions are answered with that
    account's visibility (restricted reviews of the account's groups included). A chat user
    with no link is answered from unrestricted reviews only. Made by an admin."""

    platform = models.CharField(max_length=20, choices=Platform.choices, default=Platform.SLACK)
    # Slack's workspace ("team") id, e.g. T0123ABCD: user ids are unique only within one.
    team_id = models.CharField("workspace (team) id", max_length=64)
    external_user_id = models.CharField("chat user id", max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_identities"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "chat identity"
        verbose_name_plural = "chat identities"
        ordering = ["platform", "team_id", "external_user_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "team_id", "external_user_id"], name="unique_chat_identity"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.team_id}/{self.external_user_id} → {self.user}"


class ChatRequest(models.Model):
    """One question from a chat platform, kept until it is answered: a slash command, a
    message shortcut or a link to unfurl.

    `key` is the platform's own identity of the request (Slack's trigger id or event id), so
    a request the platform sends twice is answered once. The job that answers claims the row
    (`answered_at`) in the transaction that posts the answer; a job lost with the broker is
    queued again by the sweep while the platform still accepts an answer. The payload holds
    the question's text and the platform's reply address, both worth keeping out of a
    database dump: it is encrypted, and rows are deleted a day later."""

    class Kind(models.TextChoices):
        COMMAND = "command", "Slash command"
        MESSAGE_ACTION = "message_action", "Message shortcut"
        UNFURL = "unfurl", "Link unfurl"

    platform = models.CharField(max_length=20, choices=Platform.choices, default=Platform.SLACK)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=200, unique=True)
    team_id = models.CharField(max_length=64, blank=True)
    external_user_id = models.CharField(max_length=64, blank=True)
    # JSON: what was asked and where to answer (see chat.services).
    payload = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    answered_at = models.DateTimeField(null=True, blank=True)
    # Why the platform refused the answer for good (e.g. the reply address expired).
    failure = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["answered_at", "created_at"], name="chat_unanswered")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.key}"
